package dev.osvj.virtio;

import dev.osvj.virtio.ring.Notifier;
import dev.osvj.virtio.ring.QueueCounters;
import dev.osvj.virtio.ring.VirtqueueDevice;
import dev.osvj.virtio.ring.VirtqueueLayout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The device side of one virtio device (the backend, "the hypervisor"): status register, feature
 * negotiation, config space and the device halves of its virtqueues. Subclasses implement the
 * device type ({@link #doWork}); a {@link DeviceAgent} runs {@code doWork} on a backend thread.
 *
 * <p>As a {@link VirtioTransport} it is the in-process transport: the driver writes its registers
 * directly. Status rules the device enforces (virtio 1.x, "Device Initialization"):
 * <ul>
 *   <li>FEATURES_OK is accepted only if the driver's features are a subset of the offer and include
 *       VERSION_1; otherwise the bit does not stick and the driver reads it back cleared;</li>
 *   <li>DRIVER_OK attaches the configured queues ({@link VirtqueueDevice} validates placements) and
 *       starts the device; a queue the device cannot use sets DEVICE_NEEDS_RESET;</li>
 *   <li>writing 0 resets: queues detached, features and status cleared.</li>
 * </ul>
 *
 * <p>Threads: registers are written by the driver thread; {@link #doWork} runs on the backend
 * thread; {@link #live()} (a volatile read) hands the attached queues from one to the other.
 *
 * <p>Inline kicks (an in-kernel device): for a queue the subclass {@link #servesKicksInline serves
 * inline}, a driver's kick processes that queue right on the kicking thread ({@link #doInlineWork})
 * instead of waking the backend thread: no thread wake-up between the guest's transmit and the wire.
 * The work lock serialises it with the backend's duty cycle and with reset, so device state stays
 * single-threaded. The kicking thread is usually a kernel thread (a continuation on a vCPU carrier,
 * holding the driver's transmit lock), so the inline path never blocks and never yields:
 * <ul>
 *   <li>the work lock is only {@code tryLock}ed and never re-entered; when the backend (or another
 *       vCPU's inline kick) holds it, when the calling thread is already inside this device (an
 *       interrupt handler that the device's own call ran inline transmitted), or when the device is not
 *       live, the kick falls back to waking the backend, exactly as without inline kicks
 *       ({@link #inlineFallbacks()}); nothing is lost, the backend's duty cycle re-checks every queue
 *       before it idles;</li>
 *   <li>{@link #doInlineWork} must not block or reach a preemption point (see
 *       {@code FrameTransport.transmitsInline}); JDK locks taken under it are then safe, because the
 *       kernel thread cannot be switched out while it holds them. Preemption is deliberately not
 *       disabled around it: re-enabling it is itself a preemption point, and the caller still holds the
 *       driver's transmit lock;</li>
 *   <li>while the backend idles (kicks on), the inline path re-arms the queue's kick after it took the
 *       chains (the event index moves past them) and loops while chains arrived meanwhile, so the next
 *       transmit kicks again; while the backend polls (kicks off) it leaves them off;</li>
 *   <li>a failure in {@link #doInlineWork} is a backend bug: the device sets DEVICE_NEEDS_RESET, as
 *       {@link DeviceAgent} does for {@link #doWork}.</li>
 * </ul>
 */
public abstract class VirtioDevice implements VirtioTransport {
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final DeviceType type;
    private final MemorySegment guest;
    private final long offeredFeatures;
    private final int maxQueueSize;
    private final VirtqueueLayout.Placement[] placements;
    private final VirtqueueDevice[] queues;
    /** Config space (device-specific layout), little-endian. */
    protected final MemorySegment config;
    private final AtomicLong kicksReceived = new AtomicLong();
    private volatile Notifier interrupt = Notifier.NONE;
    private volatile Runnable wakeup = () -> {
    };
    /**
     * Serialises the backend's duty cycle, inline kicks and reset (the driver thread). Kicking threads
     * only {@code tryLock} it.
     */
    private final ReentrantLock workLock = new ReentrantLock();
    private final AtomicLong inlineKicks = new AtomicLong();
    private final AtomicLong inlineFallbacks = new AtomicLong();
    private final AtomicLong inlineErrors = new AtomicLong();
    private final java.util.concurrent.atomic.AtomicInteger generation = new java.util.concurrent.atomic.AtomicInteger();
    private volatile int status;
    private volatile boolean needsReset;
    private volatile long negotiated;
    private volatile boolean live;
    /** Backend thread: kicks are on (the device idles) rather than off (it polls). */
    private boolean armed = true;

    /**
     * @param guest           guest memory as the device maps it (offset = guest physical address).
     * @param offeredFeatures device-specific feature bits to offer; INDIRECT_DESC, EVENT_IDX and
     *                        VERSION_1 are added.
     * @param queueCount      number of virtqueues.
     * @param maxQueueSize    largest queue size the device accepts (power of two).
     * @param configSize      bytes of config space.
     */
    protected VirtioDevice(final DeviceType type, final MemorySegment guest, final long offeredFeatures,
        final int queueCount, final int maxQueueSize, final int configSize) {
        if (!VirtqueueLayout.validSize(maxQueueSize)) {
            throw new IllegalArgumentException("queue size must be a power of two 1..32768: " + maxQueueSize);
        }
        this.type = type;
        this.guest = guest;
        this.offeredFeatures = offeredFeatures | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC)
            | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX) | VirtioFeatures.bit(VirtioFeatures.VERSION_1);
        this.maxQueueSize = maxQueueSize;
        this.placements = new VirtqueueLayout.Placement[queueCount];
        this.queues = new VirtqueueDevice[queueCount];
        this.config = Arena.ofAuto().allocate(Math.max(configSize, 1), 8);
    }

    @Override
    public final DeviceType type() {
        return type;
    }

    /** Guest memory as this device maps it. */
    protected final MemorySegment guest() {
        return guest;
    }

    @Override
    public final long deviceFeatures() {
        return offeredFeatures;
    }

    @Override
    public final synchronized void driverFeatures(final long features) {
        if ((status & DeviceStatus.FEATURES_OK) != 0) {
            throw new IllegalStateException("features written after FEATURES_OK");
        }
        negotiated = features;
    }

    @Override
    public final long negotiatedFeatures() {
        return negotiated;
    }

    /** True when {@code feature} was negotiated. */
    public final boolean negotiated(final int feature) {
        return VirtioFeatures.has(negotiated, feature);
    }

    @Override
    public final int status() {
        return needsReset ? status | DeviceStatus.DEVICE_NEEDS_RESET : status;
    }

    @Override
    public final synchronized void status(final int value) {
        if (value == 0) {
            reset();
            return;
        }
        int accepted = value;
        final int added = value & ~status;
        if ((added & DeviceStatus.FEATURES_OK) != 0) {
            final long f = negotiated;
            if ((f & ~offeredFeatures) != 0 || !VirtioFeatures.has(f, VirtioFeatures.VERSION_1)) {
                accepted &= ~DeviceStatus.FEATURES_OK;
            }
        }
        if ((added & DeviceStatus.DRIVER_OK) != 0) {
            if ((accepted & DeviceStatus.FEATURES_OK) == 0) {
                accepted = accepted & ~DeviceStatus.DRIVER_OK | DeviceStatus.DEVICE_NEEDS_RESET;
            } else if (!attachQueues()) {
                accepted = accepted & ~DeviceStatus.DRIVER_OK | DeviceStatus.DEVICE_NEEDS_RESET;
            }
        }
        if ((added & DeviceStatus.FAILED) != 0) {
            live = false;
        }
        status = accepted & ~DeviceStatus.DEVICE_NEEDS_RESET;
        if ((accepted & DeviceStatus.DEVICE_NEEDS_RESET) != 0) {
            needsReset = true;
        }
        if ((added & DeviceStatus.DRIVER_OK) != 0 && (accepted & DeviceStatus.DRIVER_OK) != 0) {
            activate(); // before live: the backend thread reads what activate() set once it sees live
            live = true;
            wakeup.run();
        }
    }

    private boolean attachQueues() {
        final boolean eventIdx = negotiated(VirtioFeatures.EVENT_IDX);
        final boolean indirect = negotiated(VirtioFeatures.INDIRECT_DESC);
        try {
            for (int q = 0; q < queues.length; q++) {
                final VirtqueueLayout.Placement p = placements[q];
                queues[q] = p == null ? null : new VirtqueueDevice(guest, q, p, eventIdx, indirect, this::interrupt);
            }
            return true;
        } catch (final IllegalArgumentException e) {
            java.util.Arrays.fill(queues, null);
            return false;
        }
    }

    private void reset() {
        workLock.lock();
        try {
            live = false;
            deactivate();
            java.util.Arrays.fill(queues, null);
            armed = true;
        } finally {
            workLock.unlock();
        }
        java.util.Arrays.fill(placements, null);
        negotiated = 0;
        needsReset = false;
        status = 0;
    }

    /**
     * The device hit an error it cannot recover from alone (DEVICE_NEEDS_RESET): it stops using its
     * queues until the driver resets it. Any thread.
     */
    protected final void needsReset() {
        needsReset = true;
        live = false;
        generation.incrementAndGet();
        interrupt.notify(Notifier.CONFIG_CHANGE);
    }

    /**
     * One duty cycle (backend thread): {@link #doWork}, with kicks off while there is work and on
     * (then a re-check) before the device goes idle, so the driver kicks only a sleeping device.
     */
    final int work() throws Exception {
        workLock.lock();
        try {
            if (!live) {
                return 0;
            }
            int done = doWork();
            if (done > 0) {
                if (armed) {
                    armNotifications(false);
                    armed = false;
                }
            } else if (!armed) {
                armed = true;
                if (armNotifications(true)) {
                    armNotifications(false);
                    armed = false;
                    done = 1;
                }
            }
            return done;
        } finally {
            workLock.unlock();
        }
    }

    /** Called (driver thread) when the driver set DRIVER_OK: open backends, post initial work. */
    protected void activate() {
    }

    /** Called (driver thread) on reset: stop using the queues. */
    protected void deactivate() {
    }

    /** True between DRIVER_OK and reset: {@link #doWork} may use the queues. */
    public final boolean live() {
        return live;
    }

    @Override
    public final int queueCount() {
        return queues.length;
    }

    @Override
    public final int queueMaxSize(final int queue) {
        return maxQueueSize;
    }

    @Override
    public final synchronized void setupQueue(final int queue, final int size, final long descPa, final long availPa,
        final long usedPa) {
        if ((status & DeviceStatus.DRIVER_OK) != 0) {
            throw new IllegalStateException("queue set up after DRIVER_OK");
        }
        if (size > maxQueueSize || !VirtqueueLayout.validSize(size)) {
            throw new IllegalArgumentException("queue " + queue + ": size " + size + " (max " + maxQueueSize + ")");
        }
        placements[queue] = new VirtqueueLayout.Placement(descPa, availPa, usedPa, size);
    }

    /** The device half of queue {@code q}, or null before DRIVER_OK. Backend thread only. */
    protected final VirtqueueDevice queue(final int q) {
        return queues[q];
    }

    /** Attached queues, for statistics. */
    public final VirtqueueDevice[] queues() {
        return queues.clone();
    }

    @Override
    public final void kick(final int queue) {
        kicksReceived.incrementAndGet();
        if (servesKicksInline(queue) && kickInline(queue)) {
            return;
        }
        wakeup.run();
    }

    /**
     * Serve a kick of {@code queue} on the calling thread (see the class comment).
     *
     * @return true when it was served; false: the backend must be woken.
     */
    private boolean kickInline(final int queue) {
        // A thread already inside this device (the backend's duty cycle, an offer or an inline kick whose
        // interrupt ran the driver's handler inline, which transmitted) does not re-enter it: the backend
        // finds the chains on its next cycle.
        if (!live || workLock.isHeldByCurrentThread() || !workLock.tryLock()) {
            inlineFallbacks.incrementAndGet();
            return false;
        }
        try {
            final VirtqueueDevice q = queues[queue];
            if (!live || q == null) {
                inlineFallbacks.incrementAndGet();
                return false;
            }
            do {
                doInlineWork(queue);
            } while (live && armed && q.enableNotifications());
            inlineKicks.incrementAndGet();
            return true;
        } catch (final Exception | AssertionError e) {
            inlineErrors.incrementAndGet();
            needsReset();
            return true;
        } finally {
            workLock.unlock();
        }
    }

    /**
     * Whether a kick of {@code queue} is served on the kicking thread ({@link #doInlineWork}) rather than
     * by waking the backend. Read at every kick, from the kicking thread. Default false.
     */
    protected boolean servesKicksInline(final int queue) {
        return false;
    }

    /**
     * Process the chains available on {@code queue} on the kicking thread, as {@link #doWork} would
     * (work lock held, device live). Must not block or reach a preemption point (see the class comment).
     *
     * @return work done.
     */
    protected int doInlineWork(final int queue) throws Exception {
        return 0;
    }

    public final long kicksReceived() {
        return kicksReceived.get();
    }

    /** Kicks served on the kicking thread (no backend wake-up). */
    public final long inlineKicks() {
        return inlineKicks.get();
    }

    /** Kicks of an inline queue that woke the backend instead (work lock busy, or the device not live). */
    public final long inlineFallbacks() {
        return inlineFallbacks.get();
    }

    /** Inline kicks that failed (a backend bug): each set DEVICE_NEEDS_RESET. */
    public final long inlineErrors() {
        return inlineErrors.get();
    }

    /** Who wakes the backend thread when the driver kicks (set by the {@link DeviceAgent}). */
    final void wakeup(final Runnable action) {
        wakeup = action;
    }

    @Override
    public final void interruptHandler(final Notifier handler) {
        interrupt = handler;
    }

    private void interrupt(final int queue) {
        interrupt.notify(queue);
    }

    @Override
    public final int configGeneration() {
        return generation.get();
    }

    /** Bump the config generation and send a config-change interrupt (after changing the config space). */
    protected final void configChanged() {
        generation.incrementAndGet();
        interrupt.notify(Notifier.CONFIG_CHANGE);
    }

    @Override
    public final long readConfig(final int offset, final int width) {
        if (offset < 0 || offset + width > config.byteSize()) {
            return 0; // reads past the config space read zeroes, as on real transports
        }
        return switch (width) {
            case 1 -> config.get(ValueLayout.JAVA_BYTE, offset) & 0xffL;
            case 2 -> config.get(LE16, offset) & 0xffffL;
            case 4 -> config.get(LE32, offset) & 0xffff_ffffL;
            case 8 -> config.get(LE64, offset);
            default -> throw new IllegalArgumentException("config width " + width);
        };
    }

    protected final void putConfig16(final int offset, final int value) {
        config.set(LE16, offset, (short)value);
    }

    protected final void putConfig32(final int offset, final int value) {
        config.set(LE32, offset, value);
    }

    protected final void putConfig64(final int offset, final long value) {
        config.set(LE64, offset, value);
    }

    /**
     * One duty cycle of the backend: take available chains, do the I/O, return used chains.
     * Backend thread only; called only while {@link #live()}.
     *
     * @return work done (0 = idle), as an Agrona {@code Agent.doWork}.
     */
    protected abstract int doWork() throws Exception;

    /**
     * Whether the backend must run this device's {@link #doWork} now and then even without a kick (a transport
     * whose frames arrive unannounced). True by default; a device that is told about all its work says false,
     * and an idle backend whose devices all say so parks until a kick ({@link DeviceAgent#needsPolling}).
     */
    public boolean needsPolling() {
        return true;
    }

    /**
     * Turn kicks on for every queue before idling (check again afterwards), or off while polling.
     *
     * @return true when a queue has work after turning kicks on: keep polling.
     */
    final boolean armNotifications(final boolean on) {
        boolean pending = false;
        for (final VirtqueueDevice q : queues) {
            if (q == null) {
                continue;
            }
            if (on) {
                pending |= q.enableNotifications() && availableIsWork(q.index());
            } else {
                q.disableNotifications();
            }
        }
        return pending;
    }

    /**
     * Whether chains the driver made available on {@code queue} are work by themselves. True for
     * request queues (tx, blk requests); a receive queue's posted buffers are only room for work that
     * arrives from the wire, so a device with an idle wire and posted buffers may sleep.
     */
    protected boolean availableIsWork(final int queue) {
        return true;
    }

    /** Device-specific counters for {@code lsdev} ("rx_dropped=3"), empty by default. */
    public String deviceCounters() {
        return "";
    }

    /** Names of device-specific feature bits, for {@code lsdev}; null for unknown bits. */
    public String featureName(final int bit) {
        return null;
    }

    /** Per-queue device-side counters. */
    public final QueueCounters queueCounters(final int q) {
        final VirtqueueDevice d = queues[q];
        return d == null ? null : d.counters();
    }

    @Override
    public String location() {
        return "in-process";
    }

    /** Release backend resources (files, sockets). */
    @Override
    public void close() {
        reset();
    }
}
