package dev.osvj.net.user;

import dev.osvj.kernel.Errno;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.stack.StackDriver;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The user gateway's one event loop, as passt runs one: a single platform thread with a
 * {@link Selector} over every host socket (the forwards' listeners and all carried connections), which
 * also runs the gateway stack's timers. No thread per connection and no thread per direction.
 *
 * <p>Each carried connection is a {@link Relay}: a host {@link SocketChannel} (non-blocking) and a
 * non-blocking socket of the gateway's stack, watched with {@link Sockets#watch}. The two directions:
 * <ul>
 *   <li><b>host to guest</b>: the selector reports the host socket readable; the loop reads up to
 *       {@link #CHUNK} bytes and sends them on the gateway socket ({@code MSG_DONTWAIT}), which
 *       transmits the segments to the guest at once. What the gateway socket does not take stays in the
 *       relay and the host socket is not read again (OP_READ off) until the gateway socket's readiness
 *       callback reports send space: the host's bytes are taken off its socket only as the guest side
 *       accepts them. Host EOF becomes a FIN to the guest once the leftover is sent; a host reset
 *       becomes a RST.</li>
 *   <li><b>guest to host</b>: the gateway socket's readiness callback queues the relay
 *       ({@link #ready}, at most once until it is served); the thread that caused the change serves the
 *       queue before it goes on: this loop (which also runs the guest's queued frames through the stack)
 *       or, in the guest link's inline mode, its transmitting thread right after the frame
 *       ({@link GuestLink}); either way a reply goes to the host socket without a further hand-off. Serving receives what is readable and writes it to
 *       the host socket (non-blocking); what the host does not take stays in the relay, the gateway
 *       socket is not read again (its window closes toward the guest) and the loop waits for OP_WRITE.
 *       A guest FIN becomes {@code shutdownOutput}, a guest reset a RST (SO_LINGER 0).</li>
 * </ul>
 * Callbacks from any other thread (the DHCP server's, the outbound NAT's) wake the loop, which serves
 * the queue; so do the stack's deferred net-channel flows ({@link NetStack#setFlowWaker}). Wakeups are
 * batched: the loop is woken only while it sleeps, and one round serves every queued relay and every
 * selected key.
 *
 * <p>Threads and locks: the loop does each round of its work under the guest link's stack lock (see
 * {@link GuestLink}) and releases it around the select; an inline transmitter (the guest driver's
 * kernel thread, through the virtio-net device's inline transmit, or the device's backend thread) holds
 * it while it runs a guest frame through the stack and serves the relays the frame signalled. The loop
 * only {@code tryLock}s it: when an inline transmitter holds it (typically a vCPU carrier writing the
 * guest's reply to a host socket just as the next request arrives), the loop reads the readable host
 * sockets into their relays without it, signals them and leaves the round's queued work to the holder,
 * which serves it when it lets go ({@link GuestLink#releaseAsTransmitter}). The loop parked on the lock
 * instead until session 8 (0.2-0.3 times per memcached request: a futex sleep of the loop and a futex
 * wake by the carrier each time); it still waits for tasks and for timers a whole tick late. A relay's
 * state is guarded by its own lock, taken under the stack lock and at close; the loop, handing off
 * a host read without the stack lock, only {@code tryLock}s it (for a relay being served it waits for
 * the stack lock as before), and so does a transmitter; every call under it is non-blocking. Lock order: stack lock, relay, gateway socket, the
 * guest NIC's receive lock. A transmitter never waits: it only {@code tryLock}s the stack lock (a busy
 * loop gets the frame queued) and the relay locks. Kernel threads run here only inside such an inline
 * transmit, which reaches no scheduler preemption point (every socket call is non-blocking), so the JDK
 * locks it holds cannot be re-entered by another kernel thread of its carrier.
 *
 * <p><b>vCPUs as the selector</b> ({@code osvj.net.user.vcpu-select}, {@link #haltWait()}): whoever
 * holds the select lock selects and then does the round's work ({@link #round}); without vCPU waits that
 * is the loop thread, for good. With them, an idle vCPU's carrier takes the select lock in its halt
 * ({@link dev.osvj.sched.HaltWait#await}), selects until a host socket is ready, a waker calls
 * {@code Selector.wakeup} (a kernel-thread wakeup for that vCPU, the clock, a relay signal) or its
 * timeout, and does the round's work on the carrier: a client's request is read, run through the
 * gateway stack and written into the guest's receive queue by the carrier that then runs the guest
 * threads it woke, so the request costs no gateway-thread wake-up. The carrier never waits for the
 * guest NIC ({@link GuestLink#noWaitThread}). Only one thread selects: a vCPU that finds another vCPU
 * holding the lock halts as usual. The loop thread parks between ticks; at each tick, or when a waker
 * found nobody selecting, it does a non-blocking round if the lock is free, and when no vCPU has waited
 * in the selector for a whole tick (every vCPU busy) it takes the selector over with blocking selects
 * until an idle vCPU asks for it back ({@link #wanted}: the vCPU wakes the selector and waits for the
 * lock; its first round then does not block, because a wakeup meant for it may have gone to the loop's
 * select). So host sockets are never unwatched for longer than a tick, and a busy guest is served as
 * without vCPU waits. Between selects, while nobody holds the select lock (the vCPU that selected last
 * runs the guest, the other is halted in its mailbox, the loop thread parked), every inline transmitter
 * polls the host sockets once without blocking after its frame ({@link #pollHostInline}): the guest's next
 * reply takes in the requests that arrived meanwhile, instead of their waiting for a vCPU to go idle or
 * for the loop's tick.
 *
 * <p>A relay ends when both directions are closed (or either side reset): both sockets are closed.
 */
final class HostLoop implements AutoCloseable {
    /** Bytes read from a host socket, or received from a gateway socket, per call. */
    static final int CHUNK = 64 * 1024;
    private static final int EAGAIN = -Errno.EAGAIN.number();

    private final String name;
    private final NetStack stack;
    private final Sockets sockets;
    private final GuestLink link;
    private final Selector selector;
    private final Thread thread;
    /**
     * Signalled relays (each at most once until served, see {@link Relay#signalled}): many producers
     * (readiness callbacks on any thread), one consumer at a time (the stack lock's holder). An array
     * queue, so a signal allocates nothing; {@link #readyOverflow} takes what does not fit.
     */
    private final ManyToOneConcurrentArrayQueue<Relay> ready = new ManyToOneConcurrentArrayQueue<>(READY_CAPACITY);
    private final ConcurrentLinkedQueue<Relay> readyOverflow = new ConcurrentLinkedQueue<>();
    /** Relays signalled at once before {@link #readyOverflow} is used (more than any test or bench carries). */
    static final int READY_CAPACITY = 4096;
    private final ConcurrentLinkedQueue<NetStack.FlowConsumer> deferred = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final Set<Relay> relays = ConcurrentHashMap.newKeySet();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    /** The loop thread's I/O buffer (a heap array, so the gateway's sockets can take it as it is). */
    private final ByteBuffer loopScratch = ByteBuffer.allocate(CHUNK);
    /** True while the loop is (about to be) blocked in select: only then does a waker call {@code wakeup}. */
    private volatile boolean sleeping;
    private volatile boolean running = true;
    private final AtomicLong wakeups = new AtomicLong();
    /**
     * Host reads the loop made while another thread held the stack lock, leaving the bytes to that holder
     * instead of waiting for the lock ({@link #handOffHostRead}).
     */
    private final AtomicLong handoffs = new AtomicLong();
    /** Interest-set changes of host sockets (each one an {@code epoll_ctl} at the next select). */
    private final AtomicLong interestChanges = new AtomicLong();
    /** Written by the select lock's holder only. */
    private volatile long rounds;

    // ----- who selects (see the class documentation, "vCPUs as the selector") -----------------------
    /** Idle vCPUs may select here ({@link #haltWait()}). */
    private final boolean vcpuWait;
    /**
     * The selector's lock: its holder alone selects and then does the round's work ({@link #round}); it
     * guards {@link #loopScratch}, {@link #keysLocked} and {@link #nextTick}. Without vCPU waits the loop
     * thread holds it for good.
     */
    private final ReentrantLock selectLock = new ReentrantLock();
    /**
     * The loop thread holds {@link #selectLock} (a round or a takeover) or is taking it: a vCPU that finds
     * the lock taken then asks for it ({@link #wanted}) and waits, instead of halting in its mailbox.
     */
    private volatile boolean loopOwns;
    /** A vCPU waits for the loop thread to end its takeover. */
    private volatile boolean wanted;
    /** The loop thread is parked between its ticks (vCPU waits on): a waker unparks it if nobody selects. */
    private volatile boolean loopParked;
    /** vCPU waits entered so far (each may serve host events). */
    private final AtomicLong vcpuWaits = new AtomicLong();
    /** Loop-thread takeovers: no vCPU waited in the selector for a whole tick (a busy guest). */
    private final AtomicLong takeovers = new AtomicLong();
    /** Times a waker unparked the parked loop thread (nobody was selecting). */
    private final AtomicLong loopUnparks = new AtomicLong();
    /** Next run of the stack's timers (stack.now() time); guarded by {@link #selectLock}. */
    private long nextTick;
    /** The wait the vCPUs use (null without vCPU waits). */
    private final dev.osvj.sched.HaltWait haltWait = new dev.osvj.sched.HaltWait() {
        @Override
        public boolean await(final long timeoutNanos, final java.util.function.BooleanSupplier woken) {
            return vcpuAwait(timeoutNanos, woken);
        }

        @Override
        public void wakeup() {
            selector.wakeup();
        }
    };

    /** What to connect a forward's host connections to. */
    record Target(int guestIp, int guestPort) {
    }

    HostLoop(final String name, final NetStack stack, final GuestLink link) throws IOException {
        this(name, stack, link, false);
    }

    /**
     * @param vcpuWait true: idle vCPUs select here ({@link #haltWait()}), the loop thread is the
     *     fallback (see the class documentation); false: the loop thread is the only selector.
     */
    HostLoop(final String name, final NetStack stack, final GuestLink link, final boolean vcpuWait) throws IOException {
        this.vcpuWait = vcpuWait;
        this.name = name;
        this.stack = stack;
        this.sockets = stack.sockets();
        this.link = link;
        this.selector = Selector.open();
        stack.setFlowWaker(flow -> {
            deferred.offer(flow);
            wakeUnlessServing();
        });
        link.setAfterFrame(this::serveInline);
        link.setOnQueued(this::wake);
        link.setPendingWork(() -> !ready.isEmpty() || !readyOverflow.isEmpty() || !deferred.isEmpty());
        this.thread = Thread.ofPlatform().daemon().name(name + "-gw").start(this::run);
    }

    long accepted() {
        return accepted.get();
    }

    long refused() {
        return refused.get();
    }

    /** Connections carried now. */
    int relays() {
        return relays.size();
    }

    /**
     * The loop's state and every relay's, one line each (diagnostics; racy reads, no locks taken, so it
     * can be called from any thread even while the loop is stuck).
     */
    List<String> describe() {
        final List<String> out = new ArrayList<>();
        out.add(name + " loop: sleeping=" + sleeping + " ready=" + ready.size() + "+" + readyOverflow.size()
            + " tasks=" + tasks.size() + " deferred=" + deferred.size() + " queuedFrames=" + link.hasQueued()
            + " rounds=" + rounds + " wakeups=" + wakeups.get() + " vcpuWait=" + vcpuWait + " vcpuWaits=" + vcpuWaits.get()
            + " takeovers=" + takeovers.get() + " loopOwns=" + loopOwns + " selectLocked=" + selectLock.isLocked()
            + " thread=" + thread.getState());
        for (final Relay r : relays) {
            out.add(r.toString());
        }
        return out;
    }

    /** Accept host connections on {@code server} (any thread): each is carried to {@code target}. */
    void listen(final ServerSocketChannel server, final Target target) {
        submit(() -> {
            try {
                server.configureBlocking(false);
                server.register(selector, SelectionKey.OP_ACCEPT, target);
            } catch (final IOException e) {
                closeQuietly(server); // closed meanwhile (the gateway is closing)
            }
        });
    }

    /**
     * Carry an established pair (any thread): a connected host socket and a connected socket of the
     * gateway's stack (the outbound NAT's). The loop owns and closes both from now on.
     */
    void adopt(final SocketChannel host, final int fd) {
        submit(() -> {
            final Relay r = register(host, fd, false);
            if (r != null) {
                r.signal();
            }
        });
    }

    private void submit(final Runnable task) {
        tasks.offer(task);
        if (!selectLock.isHeldByCurrentThread()) {
            wake();
        }
    }

    private void wake() {
        if (sleeping) {
            wakeups.incrementAndGet();
            selector.wakeup();
        } else if (loopParked && !selectLock.isHeldByCurrentThread()) {
            // nobody selects (vCPU waits on, every vCPU busy): the loop thread serves it now, not at its tick
            loopUnparks.incrementAndGet();
            LockSupport.unpark(thread);
        }
    }

    /** The source idle vCPUs wait on, or null when this loop was made without vCPU waits. */
    dev.osvj.sched.HaltWait haltWait() {
        return vcpuWait ? haltWait : null;
    }

    /** vCPU waits in the selector so far. */
    long vcpuWaits() {
        return vcpuWaits.get();
    }

    /** Times the loop thread took the selector over from the vCPUs (a busy guest). */
    long takeovers() {
        return takeovers.get();
    }

    /** Times a waker unparked the loop thread because no vCPU was selecting. */
    long loopUnparks() {
        return loopUnparks.get();
    }

    /**
     * A vCPU's wait ({@link dev.osvj.sched.HaltWait#await}, on its carrier in scheduler context): one
     * round as the selector, if nobody else selects; when the loop thread holds it in a takeover, ask it
     * back and do a non-blocking round once it is ours.
     */
    private boolean vcpuAwait(final long timeoutNanos, final java.util.function.BooleanSupplier woken) {
        if (!running) {
            return false;
        }
        boolean blockingOk = true;
        if (!selectLock.tryLock()) {
            if (!loopOwns) {
                // An inline transmitter's poll holds it for a moment (non-blocking): wait for it, or nobody would
                // select once it lets go. Otherwise another vCPU selects: halt as usual (its select serves this
                // vCPU's wakers too).
                return pollers.get() > 0 && awaitPoller() && vcpuRoundLocked(true, timeoutNanos, woken);
            }
            wanted = true;
            selector.wakeup(); // the loop's round ends at once, and it lets go
            selectLock.lock();
            blockingOk = false; // a waker's wakeup may have gone to the loop's select: no blocking select now
        }
        wanted = false;
        return vcpuRoundLocked(blockingOk, timeoutNanos, woken);
    }

    /**
     * Wait (a vCPU, in {@link #vcpuAwait}) for an inline transmitter's poll to let go of the select lock:
     * {@value #POLLER_WAIT_NANOS} ns at most (a poll never blocks); true with the lock held.
     */
    private boolean awaitPoller() {
        pollerWaits.incrementAndGet();
        try {
            return selectLock.tryLock(POLLER_WAIT_NANOS, java.util.concurrent.TimeUnit.NANOSECONDS);
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** vCPUs that found an inline transmitter's poll holding the select lock and waited for it. */
    private final AtomicLong pollerWaits = new AtomicLong();

    long pollerWaits() {
        return pollerWaits.get();
    }

    /** How long a vCPU waits for a transmitter's poll to let go of the select lock before it halts as usual. */
    static final long POLLER_WAIT_NANOS = 200_000L;

    /** A vCPU's round as the selector (select lock held; released here). */
    private boolean vcpuRoundLocked(final boolean blockingOk, final long timeoutNanos,
        final java.util.function.BooleanSupplier woken) {
        try {
            if (!running) {
                return false;
            }
            vcpuWaits.incrementAndGet();
            link.noWaitThread(Thread.currentThread());
            try {
                round(blockingOk && !woken.getAsBoolean() ? timeoutNanos : 0);
            } finally {
                link.noWaitThread(null);
            }
        } catch (final IOException | RuntimeException e) {
            if (running) {
                System.err.println(name + ": gateway round on a vCPU failed: " + e);
            }
            if (keysLocked) { // failed between the select's key action and the round's work
                keysLocked = false;
                link.unlockStack();
            }
        } finally {
            selectLock.unlock();
        }
        return true;
    }

    /** Host reads handed to the stack lock's holder instead of waiting for the lock ({@link #handOffHostRead}). */
    long handoffs() {
        return handoffs.get();
    }

    /** Interest-set changes of host sockets (each one an {@code epoll_ctl}). */
    long interestChanges() {
        return interestChanges.get();
    }

    /** Times another thread woke the loop's select ({@code Selector.wakeup}). */
    long wakeups() {
        return wakeups.get();
    }

    /** Blocking selects the loop made (each one a sleep and a wake-up: by a host socket, a wakeup call or the tick). */
    long rounds() {
        return rounds;
    }

    /** From a readiness callback: a thread that serves the queue itself needs no wakeup. */
    private void wakeUnlessServing() {
        if (!selectLock.isHeldByCurrentThread() && !link.servicing()) {
            wake();
        }
    }

    // ----- the loop ----------------------------------------------------------------------------

    private void run() {
        selectLock.lock();
        try {
            nextTick = stack.now() + StackDriver.TICK_NS;
        } finally {
            selectLock.unlock();
        }
        try {
            if (!vcpuWait) {
                selectLock.lock(); // the only selector, for good
                loopOwns = true;
                while (running) {
                    round(StackDriver.TICK_NS);
                }
            } else {
                runAsFallback();
            }
        } catch (final IOException | RuntimeException e) {
            if (running) {
                System.err.println(name + ": gateway loop failed: " + e);
            }
        } finally {
            sleeping = false;
            if (keysLocked) {
                link.unlockStack();
                keysLocked = false;
            }
            if (!selectLock.isHeldByCurrentThread()) {
                selector.wakeup(); // a vCPU in the selector returns and lets go
                selectLock.lock();
            }
            loopOwns = true; // vCPUs stay out from now on (running is false)
            link.lockStack(); // no inline transmitter serves a relay while they are closed
            try {
                closeAll();
            } finally {
                link.unlockStack();
                selectLock.unlock();
            }
        }
    }

    /**
     * The loop thread with vCPU waits on: park between ticks while idle vCPUs select; at each tick (or
     * when a waker found nobody selecting) do a non-blocking round if the selector is free, and take it
     * over (blocking selects, as without vCPU waits) when no vCPU waited in it for a whole tick, until a
     * vCPU asks for it back. So a busy guest never leaves host sockets unwatched for longer than a tick.
     */
    private void runAsFallback() throws IOException {
        long seen = vcpuWaits.get();
        long seenAt = System.nanoTime(); // when the count last changed
        while (running) {
            loopParked = true;
            if (!hasWork()) {
                LockSupport.parkNanos(this, StackDriver.TICK_NS);
            }
            loopParked = false;
            if (!running) {
                return;
            }
            final long w = vcpuWaits.get();
            final long now = System.nanoTime();
            if (w != seen) {
                seen = w;
                seenAt = now;
            }
            // Set before the try: a vCPU that finds the lock taken while this is set waits for it instead
            // of halting in its mailbox (which would leave nobody selecting once this round ends).
            loopOwns = true;
            if (!selectLock.tryLock()) {
                loopOwns = false;
                continue; // a vCPU selects: it serves the work (wakers wake its select)
            }
            try {
                if (now - seenAt < StackDriver.TICK_NS) {
                    round(0); // what is queued, and the timers
                } else {
                    takeovers.incrementAndGet();
                    while (running && !wanted) {
                        round(StackDriver.TICK_NS);
                    }
                    seen = vcpuWaits.get();
                    seenAt = System.nanoTime();
                }
            } finally {
                loopOwns = false;
                selectLock.unlock();
            }
        }
    }

    /**
     * Work for this loop's next round. While another thread holds the stack lock, the relays, flows and
     * frames queued for it are not: that holder serves them when it lets go ({@link GuestLink#releaseAsTransmitter}),
     * so the loop sleeps instead of spinning on the lock.
     */
    private boolean hasWork() {
        return !tasks.isEmpty() || !link.stackBusyElsewhere() && (!ready.isEmpty() || !readyOverflow.isEmpty()
            || !deferred.isEmpty() || link.hasQueued());
    }

    /**
     * One round of the select lock's holder: a select of at most {@code maxWaitNanos} (0, or work
     * queued: {@code selectNow}; never past the stack's next tick), then the work under the stack lock:
     * what the select found, tasks, the guest's queued frames and every signalled relay, the stack's
     * timers. An inline transmitter that finds the stack lock taken queues its frame; the holder serves
     * it before it lets go of the stack lock or in its next round.
     */
    private void round(final long maxWaitNanos) throws IOException {
        long now = stack.now();
        sleeping = true;
        if (maxWaitNanos <= 0 || hasWork()) {
            selector.selectNow(keyAction);
        } else {
            final long wait = Math.min(maxWaitNanos, nextTick - now);
            selector.select(keyAction, Math.max(1, (wait + 999_999) / 1_000_000));
            rounds++;
        }
        sleeping = false;
        // the select's key action took it already when it found keys (unless it handed them off)
        if (!keysLocked && !lockForRound()) {
            return; // an inline transmitter holds it and serves what is queued when it lets go
        }
        keysLocked = false;
        try {
            runTasks();
            serve(loopScratch);
            now = stack.now();
            if (now - nextTick >= 0) {
                stack.poll(now);
                nextTick = now + StackDriver.TICK_NS;
                serve(loopScratch);
            }
        } finally {
            link.unlockStack();
        }
    }

    /**
     * Take the stack lock for a round's work: without waiting if it is free; if an inline transmitter holds
     * it, wait only for work nobody else does (tasks; the stack's timers once they are a whole tick late:
     * until then the next round, at most a millisecond away, tries again) and otherwise leave the round's
     * work (signalled relays, queued frames, deferred flows) to that holder.
     */
    private boolean lockForRound() {
        if (link.tryLockStack()) {
            return true;
        }
        if (!tasks.isEmpty() || stack.now() - nextTick >= StackDriver.TICK_NS) {
            link.lockStack();
            return true;
        }
        return false;
    }

    private void closeAll() {
        for (final Relay r : relays) {
            r.lock.lock();
            try {
                r.closeBoth(false);
            } finally {
                r.lock.unlock();
            }
        }
        for (final SelectionKey k : selector.keys()) {
            closeQuietly(k.channel());
        }
        closeQuietly(selector);
    }

    /**
     * The select's action for each selected key (no selected-key set, so nothing allocated per select):
     * takes the stack lock at the first key and keeps it for the round that follows.
     */
    private void onSelectedKey(final SelectionKey k) {
        if (!keysLocked) {
            sleeping = false; // awake: wakers need not call Selector.wakeup any more
            keysLocked = link.tryLockStack();
            if (!keysLocked) {
                if (handOffHostRead(k)) {
                    return;
                }
                link.lockStack();
                keysLocked = true;
            }
        }
        onSelected(k);
    }

    /**
     * The stack lock is taken (an inline transmitter: the guest's reply on its way to a host socket): read a
     * readable host socket into its relay without the stack lock and leave the bytes to the holder, which
     * sends them to the guest when it lets go ({@link GuestLink#releaseAsTransmitter}), instead of parking
     * this thread on the lock and having the holder wake it (two context switches, one of them a cross-core
     * wake-up). Only a plain read of a connected relay with nothing pending and not being served is
     * handed off; anything else (accepts, writes, EOF, leftovers, the relay the holder serves right now)
     * waits for the lock as before.
     *
     * @return true if handled (bytes read and the relay signalled, or nothing to read).
     */
    private boolean handOffHostRead(final SelectionKey k) {
        if (!k.isValid() || !(k.attachment() instanceof Relay r) || k.readyOps() != SelectionKey.OP_READ) {
            return false;
        }
        if (!r.lock.tryLock()) {
            // The holder is serving this very relay (typically writing its reply, whose client sent the next
            // request at once). Handing it the read was measured: the socket stays readable, so the loop's
            // next select returned at once and it parked on the stack lock anyway, one epoll_wait later.
            return false;
        }
        try {
            if (r.closed || r.connecting || r.hostEof || r.hostFailed || r.toGuestLen > 0) {
                return false;
            }
            final ByteBuffer into = r.toGuestBuffer().clear();
            final int n;
            try {
                n = r.host.read(into);
            } catch (final IOException e) {
                r.hostFailed = true; // the holder resets the guest connection
                r.signal();
                return true;
            }
            if (n == 0) {
                return true;
            }
            if (n < 0) {
                r.hostEof = true; // the holder sends the FIN
            } else {
                r.toGuestOff = 0;
                r.toGuestLen = n;
            }
            handoffs.incrementAndGet();
            r.signal();
            return true;
        } finally {
            r.lock.unlock();
        }
    }

    private final java.util.function.Consumer<SelectionKey> keyAction = this::onSelectedKey;
    /** Select lock's holder only: {@link #onSelectedKey} took the stack lock for the coming round. */
    private boolean keysLocked;

    private void runTasks() {
        Runnable t;
        while ((t = tasks.poll()) != null) {
            t.run();
        }
    }

    /** Serve the guest link's work: called by its transmitting thread after each frame (stack lock held). */
    private void serveInline() {
        serve(null);
        pollHostInline();
    }

    /** Non-blocking host polls made by inline transmitters that found nobody selecting ({@link #pollHostInline}). */
    private final AtomicLong transmitPolls = new AtomicLong();
    /** Host sockets those polls found ready and served (each one a request that did not wait for a select). */
    private final AtomicLong transmitPollKeys = new AtomicLong();
    private final java.util.function.Consumer<SelectionKey> pollAction = this::onPolledKey;

    /**
     * An inline transmitter (typically a vCPU carrier sending a guest's reply), after it served
     * its frame, stack lock held: when nobody selects (the select lock is free: every vCPU is busy or halted in
     * its mailbox and the loop thread is parked until its tick), poll the host sockets once without blocking
     * ({@code selectNow}) and serve what is ready now, on this thread. Without it a request that reached its
     * host socket while the selecting vCPU ran the guest waited until that vCPU went idle again (or for the
     * loop thread's tick, 5 ms), which was vcpu-select's bad p99; with it the next reply the guest sends
     * takes it in, and the frame it makes wakes the guest's other vCPU if that is where its thread runs.
     * No wake-up is added: one {@code epoll_wait(0)} per transmitted frame while nobody selects. Not nested
     * in a select (the select lock's holder is mid-round), and relays another thread holds are left ready
     * (level-triggered: the next select sees them); listeners wait for a select.
     */
    private void pollHostInline() {
        if (!vcpuWait || !running || selectLock.isHeldByCurrentThread()) {
            return;
        }
        pollers.incrementAndGet(); // before the try: a vCPU that finds the lock taken then waits for it
        try {
            if (!selectLock.tryLock()) {
                return; // a vCPU or the loop selects
            }
            try {
                transmitPolls.incrementAndGet();
                selector.selectNow(pollAction);
            } catch (final IOException | java.nio.channels.ClosedSelectorException e) {
                // closing: the loop closes every relay
            } finally {
                selectLock.unlock();
            }
        } finally {
            pollers.decrementAndGet();
        }
    }

    /** Inline transmitters in {@link #pollHostInline} now (a vCPU finding the select lock taken waits for them). */
    private final java.util.concurrent.atomic.AtomicInteger pollers = new java.util.concurrent.atomic.AtomicInteger();

    /** {@link #pollHostInline}'s key action (select and stack locks held): host reads and writes of relays. */
    private void onPolledKey(final SelectionKey k) {
        if (!k.isValid() || !(k.attachment() instanceof Relay r) || !r.lock.tryLock()) {
            return;
        }
        try {
            transmitPollKeys.incrementAndGet();
            serviceLocked(k, r);
        } finally {
            r.lock.unlock();
        }
    }

    /** A ready relay's host side, its lock held: write what waits for the host, read what the host sent. */
    private void serviceLocked(final SelectionKey k, final Relay r) {
        try {
            if (k.isValid() && k.isWritable()) {
                r.toHostLocked(loopScratch);
            }
            if (k.isValid() && k.isReadable()) {
                r.fromHostLocked(loopScratch);
            }
            r.finishIfDoneLocked();
        } catch (final RuntimeException e) {
            r.failed(e);
        }
    }

    /** Host polls of inline transmitters that found nobody selecting, and the host sockets they served. */
    long transmitPolls() {
        return transmitPolls.get();
    }

    long transmitPollKeys() {
        return transmitPollKeys.get();
    }

    private final ThreadLocal<ByteBuffer> linkScratch = ThreadLocal.withInitial(() -> ByteBuffer.allocate(CHUNK));

    /**
     * Serve every queued relay and deferred flow. {@code scratch} is the caller's receive buffer (null:
     * the guest link's thread, which has its own).
     */
    private void serve(final ByteBuffer scratch) {
        if (scratch != null) {
            int frames;
            do { // queued mode: the guest's frames, processed on this loop
                frames = link.drainQueued(256);
            } while (frames == 256);
        }
        NetStack.FlowConsumer f;
        while ((f = deferred.poll()) != null) {
            f.drainFromFlowActor();
        }
        if (!stack.settings().netChannels()) {
            stack.runReceiveStage(256);
        }
        Relay r = nextReady();
        if (r == null) {
            return;
        }
        final boolean inline = scratch == null;
        final ByteBuffer buf = inline ? linkScratch.get() : scratch;
        List<Relay> busy = null;
        do {
            r.signalled.set(false); // a change from now on queues it again
            if (inline && !r.lock.tryLock()) {
                // The loop holds it (reading its host socket): the device's thread never waits for the loop,
                // which may have been descheduled by the host; the loop serves it when it lets go.
                if (busy == null) {
                    busy = new ArrayList<>(2);
                }
                busy.add(r);
                continue;
            }
            if (!inline) {
                r.lock.lock();
            }
            try {
                r.serveLocked(buf);
            } catch (final RuntimeException e) {
                r.failed(e);
            } finally {
                r.lock.unlock();
            }
        } while ((r = nextReady()) != null);
        if (busy != null) {
            for (final Relay b : busy) {
                b.signal(); // queued again; the loop (which holds the lock, so it is awake) takes it next round
            }
            wake();
        }
    }

    /** The next signalled relay, or null (stack lock held: the one consumer). */
    private Relay nextReady() {
        final Relay r = ready.poll();
        return r != null ? r : readyOverflow.poll();
    }

    private void onSelected(final SelectionKey k) {
        if (!k.isValid()) {
            return;
        }
        if (k.attachment() instanceof Target target) {
            acceptAll((ServerSocketChannel)k.channel(), target);
            return;
        }
        final Relay r = (Relay)k.attachment();
        r.lock.lock();
        try {
            serviceLocked(k, r);
        } finally {
            r.lock.unlock();
        }
    }

    private void acceptAll(final ServerSocketChannel server, final Target target) {
        while (true) {
            final SocketChannel host;
            try {
                host = server.accept();
            } catch (final IOException e) {
                return;
            }
            if (host == null) {
                return;
            }
            accepted.incrementAndGet();
            final int fd = sockets.socket(Sockets.AF_INET, Sockets.SOCK_STREAM | Sockets.SOCK_NONBLOCK, 0);
            if (fd < 0) {
                closeQuietly(host);
                continue;
            }
            UserGateway.tune(sockets, fd);
            final Relay r = register(host, fd, true);
            if (r == null) {
                continue;
            }
            final int rc = sockets.connect(fd, target.guestIp(), target.guestPort());
            if (rc != -Errno.EINPROGRESS.number() && rc != 0) {
                r.lock.lock();
                try {
                    r.refusedLocked();
                } finally {
                    r.lock.unlock();
                }
            } else {
                r.signal(); // it may have completed already
            }
        }
    }

    /** Make the relay of a pair (loop thread): host socket registered with no interest yet, gateway socket watched. */
    private Relay register(final SocketChannel host, final int fd, final boolean connecting) {
        try {
            host.configureBlocking(false);
            host.setOption(StandardSocketOptions.TCP_NODELAY, true);
        } catch (final IOException e) {
            closeQuietly(host);
            sockets.close(fd);
            return null;
        }
        final Relay r = new Relay(host, fd, connecting);
        try {
            r.key = host.register(selector, 0, r);
        } catch (final IOException e) {
            closeQuietly(host);
            sockets.close(fd);
            return null;
        }
        relays.add(r);
        if (sockets.watch(fd, r.watcher) < 0) {
            r.lock.lock();
            try {
                r.closeBoth(true);
            } finally {
                r.lock.unlock();
            }
            return null;
        }
        if (!connecting) {
            r.lock.lock();
            try {
                r.updateInterestLocked();
            } finally {
                r.lock.unlock();
            }
        }
        return r;
    }

    // ----- one carried connection --------------------------------------------------------------

    /** A host connection and the gateway socket it is carried on. State guarded by {@link #lock}. */
    private final class Relay {
        final SocketChannel host;
        final int fd;
        final ReentrantLock lock = new ReentrantLock();
        final AtomicBoolean signalled = new AtomicBoolean();
        /** The readiness callback registered with {@link Sockets#watch} (one object, so it can be removed). */
        final Runnable watcher = this::signal;
        SelectionKey key;
        /** A forward's connect to the guest is in progress. */
        boolean connecting;
        /** Host bytes the gateway socket has not taken yet: {@code toGuest[toGuestOff, +toGuestLen)}. */
        byte[] toGuest;
        /** {@link #toGuest} as a buffer, for a host read straight into it. */
        private ByteBuffer toGuestBuffer;
        int toGuestOff;
        int toGuestLen;
        boolean hostEof;
        /** A host read the loop handed off failed (the host client reset): the holder resets the guest side. */
        boolean hostFailed;

        /** The FIN went to the guest (or the guest direction is dead). */
        boolean toGuestDone;
        /** Guest bytes the host socket has not taken yet (null or empty: none). */
        ByteBuffer toHost;
        /** The guest's FIN went to the host (or the host direction is dead). */
        boolean toHostDone;
        boolean closed;
        int interest = -1;

        Relay(final SocketChannel host, final int fd, final boolean connecting) {
            this.host = host;
            this.fd = fd;
            this.connecting = connecting;
        }

        /** {@link #toGuest} (allocated on first use) as a buffer. */
        ByteBuffer toGuestBuffer() {
            if (toGuest == null) {
                toGuest = new byte[CHUNK];
            }
            if (toGuestBuffer == null) {
                toGuestBuffer = ByteBuffer.wrap(toGuest);
            }
            return toGuestBuffer;
        }

        /** Racy snapshot for diagnostics: interest, bytes pending each way, end flags. */
        @Override
        public String toString() {
            final SelectionKey k = key;
            final ByteBuffer th = toHost;
            return "relay fd=" + fd + " interest=" + interest + " key=" + (k == null ? "none" : k.isValid()
                ? "ops=" + k.interestOps() + "/ready=" + k.readyOps() : "cancelled") + " signalled=" + signalled.get()
                + " connecting=" + connecting + " toGuest=" + toGuestLen + " hostEof=" + hostEof + " toGuestDone="
                + toGuestDone + " toHost=" + (th == null ? 0 : th.remaining()) + " toHostDone=" + toHostDone
                + " closed=" + closed + " locked=" + lock.isLocked();
        }

        /** The gateway socket's readiness changed (any thread, maybe with its lock held): queue once. */
        void signal() {
            if (!signalled.get() && signalled.compareAndSet(false, true)) {
                if (!ready.offer(this)) {
                    readyOverflow.offer(this);
                }
                wakeUnlessServing();
            }
        }

        /** Serve a readiness change (lock held): complete a connect, then both directions' pending work. */
        void serveLocked(final ByteBuffer scratch) {
            if (closed) {
                return;
            }
            if (hostFailed) {
                abortGuestLocked(); // a handed-off host read failed: the host client is gone
                return;
            }
            if (connecting) {
                final int bits = sockets.readiness(fd);
                if (bits < 0 || (bits & (Sockets.POLLERR | Sockets.POLLHUP)) != 0) {
                    // Refused (the guest answered the SYN with a RST): close the host client. Accepted
                    // and then reset before this loop saw the connect complete: reset it, as it would
                    // have been had the loop been quicker.
                    final int error = bits < 0 ? 0 : sockets.getsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_ERROR);
                    if (error == Errno.ECONNRESET.number()) {
                        closeBoth(true);
                    } else {
                        refusedLocked();
                    }
                    return;
                }
                if ((bits & Sockets.POLLOUT) == 0) {
                    return; // still connecting
                }
                connecting = false;
                updateInterestLocked();
            } else if (toHost != null && toHost.hasRemaining()) {
                // A net channel wakes its consumer once per batch, until the consumer drains it. While the
                // host is slow no recv drains it here, so drain it now: the batch may hold the guest's ACKs
                // that the other direction waits for, and the next segment must be able to wake us again.
                sockets.readiness(fd);
            }
            // host bytes first (a request the loop handed off): toHostLocked's interest update then sees them
            // sent, so the host socket's interest does not flip off and on (two epoll_ctl and a loop wake-up)
            if (toGuestLen > 0 || hostEof && !toGuestDone) {
                flushToGuestLocked();
            }
            toHostLocked(scratch);
            finishIfDoneLocked();
        }

        /** A bug surfaced while serving this connection: reset it, keep the loop (and the others) going. */
        void failed(final RuntimeException e) {
            System.err.println(name + ": gateway connection failed, reset: " + e);
            lock.lock();
            try {
                closeBoth(true);
            } finally {
                lock.unlock();
            }
        }

        void refusedLocked() {
            refused.incrementAndGet();
            closeBoth(false);
        }

        /** Guest to host: what is pending, then everything readable, until the host socket is full. */
        void toHostLocked(final ByteBuffer scratch) {
            if (closed || connecting || toHostDone) {
                return;
            }
            try {
                if (toHost != null && toHost.hasRemaining()) {
                    host.write(toHost);
                    if (toHost.hasRemaining()) {
                        updateInterestLocked();
                        return;
                    }
                }
                while (true) {
                    final int n = sockets.recv(fd, scratch.array(), 0, scratch.capacity(), Sockets.MSG_DONTWAIT);
                    if (n == EAGAIN) {
                        break;
                    }
                    if (n == 0) {
                        host.shutdownOutput(); // the guest's FIN
                        toHostDone = true;
                        break;
                    }
                    if (n < 0) {
                        closeBoth(true); // reset (or error) from the guest: reset the host client
                        return;
                    }
                    final ByteBuffer b = scratch.clear().limit(n);
                    host.write(b);
                    if (b.hasRemaining()) {
                        if (toHost == null || toHost.capacity() < b.remaining()) {
                            toHost = ByteBuffer.allocate(CHUNK);
                        }
                        toHost.clear();
                        toHost.put(b).flip();
                        break;
                    }
                }
                updateInterestLocked();
            } catch (final IOException e) {
                abortGuestLocked(); // the host client is gone
            }
        }

        /** Host to guest (loop thread, host readable): read once, send as much as the guest side takes. */
        void fromHostLocked(final ByteBuffer scratch) {
            if (closed || connecting || hostEof || toGuestLen > 0) {
                return;
            }
            final int n;
            try {
                n = host.read(scratch.clear());
            } catch (final IOException e) {
                abortGuestLocked(); // the host client reset
                return;
            }
            if (n < 0) {
                hostEof = true;
                flushToGuestLocked();
                return;
            }
            if (n == 0) {
                return;
            }
            final int w = sockets.send(fd, scratch.array(), 0, n, Sockets.MSG_DONTWAIT);
            final int sent = w == EAGAIN ? 0 : w;
            if (sent < 0) {
                closeBoth(true); // the guest side is gone
                return;
            }
            if (sent < n) {
                System.arraycopy(scratch.array(), sent, toGuestBuffer().array(), 0, n - sent);
                toGuestOff = 0;
                toGuestLen = n - sent;
                updateInterestLocked(); // stop reading the host until the guest side takes it
            }
        }

        /** Send the host's leftover bytes, then its FIN once everything went. */
        void flushToGuestLocked() {
            while (toGuestLen > 0) {
                final int w = sockets.send(fd, toGuest, toGuestOff, toGuestLen, Sockets.MSG_DONTWAIT);
                if (w == EAGAIN || w == 0) {
                    // the readiness callback brings it back when there is room; the host is not read meanwhile
                    // (bytes handed off by the loop left the interest on)
                    updateInterestLocked();
                    return;
                }
                if (w < 0) {
                    closeBoth(true);
                    return;
                }
                toGuestOff += w;
                toGuestLen -= w;
            }
            if (hostEof && !toGuestDone) {
                sockets.shutdown(fd, Sockets.SHUT_WR); // the host's FIN
                toGuestDone = true;
            }
            updateInterestLocked();
        }

        void updateInterestLocked() {
            if (closed || !key.isValid()) {
                return;
            }
            int ops = 0;
            if (!connecting && !hostEof && toGuestLen == 0) {
                ops |= SelectionKey.OP_READ;
            }
            if (toHost != null && toHost.hasRemaining()) {
                ops |= SelectionKey.OP_WRITE;
            }
            if (ops != interest) {
                interestChanges.incrementAndGet();
                interest = ops;
                key.interestOps(ops);
                if (!selectLock.isHeldByCurrentThread()) {
                    wake(); // the selector must see the new interest before it sleeps again
                }
            }
        }

        void finishIfDoneLocked() {
            if (!closed && toGuestDone && toHostDone && (toHost == null || !toHost.hasRemaining())) {
                closeBoth(false);
            }
        }

        /** The host client is gone or reset: reset the guest connection too. */
        void abortGuestLocked() {
            sockets.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_LINGER, 0);
            closeBoth(false);
        }

        /** Close both sockets; {@code resetHost}: with a RST to the host client. */
        void closeBoth(final boolean resetHost) {
            if (closed) {
                return;
            }
            closed = true;
            relays.remove(this);
            sockets.unwatch(fd, watcher);
            sockets.close(fd);
            if (key != null) {
                key.cancel();
            }
            if (resetHost) {
                try {
                    host.setOption(StandardSocketOptions.SO_LINGER, 0);
                } catch (final IOException | RuntimeException e) {
                    // already closed
                }
            }
            closeQuietly(host);
        }
    }

    private static void closeQuietly(final AutoCloseable c) {
        try {
            c.close();
        } catch (final Exception e) {
            // already gone
        }
    }

    /** Stop the loop; it closes every carried connection and the listeners registered with it. */
    @Override
    public void close() {
        running = false;
        selector.wakeup();
        LockSupport.unpark(thread);
        try {
            thread.join(5000);
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
