package dev.osvj.vswitch;

import io.aeron.Aeron;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import org.agrona.CloseHelper;
import org.agrona.IoUtil;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.ManyToOneConcurrentLinkedQueue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs virtual switches: an embedded Aeron media driver (one shared thread, low-CPU idle: this is a
 * 2-core machine class), an Aeron client on it, and one duty-cycle thread ({@code vswitch-DIR}) that
 * runs the client's conductor (Aeron's {@code AgentInvoker}) and every switch of the host
 * ({@link VSwitch#doWork}), backing off to a park of at most {@link Options#idleMaxPark()} when idle:
 * two threads per host, each parked when there is nothing to do. The driver keeps its own thread: a
 * client call that waits for the driver holds the client's lock while it waits, so a thread that also
 * uses the client (the switch thread does) must never be the one that runs the driver. What a fleet
 * starts and stops:
 *
 * <pre>{@code
 * try (SwitchHost host = SwitchHost.start()) {
 *     VSwitch fabric = host.startSwitch(SwitchSpec.of("fabric0"));      // aeron:ipc
 *     // kernels in this JVM: osvj.devices = [{type = net, backend = vswitch, switch = "fabric0"}]
 *     ...
 * }
 * }</pre>
 *
 * <p>Switches are registered JVM-wide by name ({@link #find}) while they run, so a kernel instance's
 * {@code vswitch} device finds its switch (and the driver to reach it) without more configuration.
 *
 * <p>The driver's directory is a fresh one under {@code /dev/shm} (or the temp directory when there is
 * no {@code /dev/shm}), deleted when the host closes; term buffers are sparse files of
 * {@link Options#termLength()} bytes (Aeron's 64 MiB IPC default would cost 192 MiB per port and
 * direction).
 *
 * <p>Thread-safety: {@link #startSwitch}, {@link #find} and {@link #close} may be called from any
 * thread.
 */
public final class SwitchHost implements AutoCloseable {
    private static final Map<String, VSwitch> RUNNING = new ConcurrentHashMap<>();

    /**
     * How a host runs.
     *
     * @param aeronDir    the media driver's directory; {@code null} = a fresh one under /dev/shm, deleted at close.
     * @param termLength  term buffer length of every publication, bytes: a power of two, 64 KiB..1 GiB;
     *                    the largest message is an eighth of it (default 1 MiB).
     * @param idleMaxPark the longest park of the idle duty-cycle threads (driver, switches): the added
     *                    latency of the first frame after a quiet spell (default 200 us).
     * @param cutThrough  ports joined from this JVM on this host's driver forward their frames on their
     *                    own sending thread instead of handing them to the switch thread (default true;
     *                    see {@link VSwitch}).
     * @param directReceive with {@code cutThrough}: frames to a port whose device is in this JVM are
     *                    written straight into its receive queue instead of its downlink (default true;
     *                    {@link SwitchPort#deliverTo}); false only for A/B measurements.
     * @param inlineTransmit with {@code cutThrough}: which kicking threads a local port lets its virtio-net
     *                    device transmit on ({@link SwitchPort#transmitsInline}), forwarding the frame on
     *                    the kicking thread instead of waking the device's backend thread; see
     *                    {@link InlineTransmit}. Default {@link InlineTransmit#OFF} (session 8: {@code ALL}
     *                    now has more throughput and less CPU per request in the k2k benchmark, but its p99
     *                    was still higher in loaded full runs; see BENCHMARKS.md).
     * @param deferInterrupts with {@code directReceive}: a destination's receive interrupt that runs
     *                    inline on the switch thread or a port's device thread runs after that thread
     *                    released the switch's forwarding lock, not under it (default true; see
     *                    {@link VSwitch}); false for A/B runs.
     */
    public record Options(Path aeronDir, int termLength, Duration idleMaxPark, boolean cutThrough, boolean directReceive,
        InlineTransmit inlineTransmit, boolean deferInterrupts) {
        public static Options defaults() {
            return new Options(null, 1 << 20, Duration.ofNanos(200_000), true, true, InlineTransmit.ALL, true);
        }

        public Options withDeferInterrupts(final boolean value) {
            return new Options(aeronDir, termLength, idleMaxPark, cutThrough, directReceive, inlineTransmit, value);
        }

        /** {@code true}: {@link InlineTransmit#ALL}, {@code false}: {@link InlineTransmit#OFF}. */
        public Options withInlineTransmit(final boolean value) {
            return withInlineTransmit(value ? InlineTransmit.ALL : InlineTransmit.OFF);
        }

        public Options withIdleMaxPark(final Duration value) {
            return new Options(aeronDir, termLength, value, cutThrough, directReceive, inlineTransmit, deferInterrupts);
        }

        public Options withCutThrough(final boolean value) {
            return new Options(aeronDir, termLength, idleMaxPark, value, directReceive, inlineTransmit, deferInterrupts);
        }

        public Options withDirectReceive(final boolean value) {
            return new Options(aeronDir, termLength, idleMaxPark, cutThrough, value, inlineTransmit, deferInterrupts);
        }

        public Options withInlineTransmit(final InlineTransmit value) {
            return new Options(aeronDir, termLength, idleMaxPark, cutThrough, directReceive, value, deferInterrupts);
        }
    }

    /**
     * Which kicking threads transmit a local port's frames inline ({@link SwitchPort#transmitsInline}):
     * the guest's transmit kick then runs the device's transmit, the switch's forwarding (only
     * {@code tryLock}ing it) and the destination's direct receive on the kicking thread, with no
     * wake-up of the sender's device thread. A kick that is not served inline wakes the device's
     * backend thread, which forwards as before.
     */
    public enum InlineTransmit {
        /** Every kick wakes the device's backend thread (the default). */
        OFF,
        /**
         * Only kicks on host threads (not kernel threads: {@code KThread.current() == null}), such as an
         * application's platform thread calling a kernel's socket API, or the user gateway's loop.
         * The destination's receive interrupt then runs inline on that host thread too, so the frame
         * reaches the destination's waiting thread with one wake-up. A kernel thread's kick still
         * wakes its device's backend thread (until session 7 the destination's interrupt could not run
         * inline on a kernel thread of another kernel, which made inline kicks there as costly as the
         * hand-off they saved).
         */
        HOST_THREADS,
        /**
         * Every kick, on kernel threads too (the destination's receive interrupt then runs inline on the
         * sending kernel's thread as well: to the destination it is an outside thread).
         */
        ALL;

        /** The config value ({@code off}, {@code host-threads}, {@code all}). */
        public String configName() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }

        /** The mode of config value {@code value} ({@link #configName}). */
        public static InlineTransmit ofConfig(final String value) {
            return valueOf(value.toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
        }
    }

    private final String aeronDir;
    private final boolean cutThrough;
    private final boolean directReceive;
    private final InlineTransmit inlineTransmit;
    private final boolean deferInterrupts;
    private final MediaDriver driver;
    private final Aeron aeron;
    private final AgentRunner runner;
    private final List<VSwitch> switches = new CopyOnWriteArrayList<>();
    private final ManyToOneConcurrentLinkedQueue<Runnable> hostCommands = new ManyToOneConcurrentLinkedQueue<>();
    private final List<String> messages = new CopyOnWriteArrayList<>();
    private volatile boolean closed;
    private volatile Thread switchThread;
    /** The owner's reference plus one per port joined through this host's client ({@link #retain}). */
    private final java.util.concurrent.atomic.AtomicInteger refs = new java.util.concurrent.atomic.AtomicInteger(1);

    /** Deletes the driver's directory if the JVM exits without {@link #close} (a killed test fork). */
    private final Thread cleanup;

    private SwitchHost(final String aeronDir, final MediaDriver driver, final Aeron aeron, final Duration idleMaxPark,
        final boolean cutThrough, final boolean directReceive, final InlineTransmit inlineTransmit,
        final boolean deferInterrupts) {
        this.aeronDir = aeronDir;
        this.cutThrough = cutThrough;
        this.directReceive = cutThrough && directReceive;
        this.inlineTransmit = cutThrough ? inlineTransmit : InlineTransmit.OFF;
        this.deferInterrupts = deferInterrupts;
        this.driver = driver;
        this.aeron = aeron;
        this.cleanup = new Thread(() -> IoUtil.delete(new File(aeronDir), true), "vswitch-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        this.runner = new AgentRunner(new BackoffIdleStrategy(10, 20, 1_000, idleMaxPark.toNanos()),
            e -> log("switch thread: " + e), null, new SwitchAgent());
        AgentRunner.startOnThread(runner, r -> {
            final Thread t = new Thread(r, "vswitch-" + Path.of(aeronDir).getFileName());
            t.setDaemon(true);
            return t;
        });
    }

    /** A host with the {@link Options#defaults()}. */
    public static SwitchHost start() {
        return start(Options.defaults());
    }

    /** Start the embedded media driver, the client and the switch thread. */
    public static SwitchHost start(final Options options) {
        final String dir;
        try {
            dir = options.aeronDir() != null ? options.aeronDir().toString() : Files.createTempDirectory(
                Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm") : Path.of(System.getProperty("java.io.tmpdir")),
                "osvj-vswitch-").toString();
        } catch (final java.io.IOException e) {
            throw new java.io.UncheckedIOException("vswitch: no directory for the media driver", e);
        }
        final long parkNs = options.idleMaxPark().toNanos();
        final MediaDriver.Context ctx = new MediaDriver.Context()
            .aeronDirectoryName(dir)
            .threadingMode(ThreadingMode.SHARED)
            .sharedIdleStrategy(new BackoffIdleStrategy(10, 20, 1_000, parkNs))
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true)
            .warnIfDirectoryExists(false)
            .termBufferSparseFile(true)
            .ipcTermBufferLength(options.termLength())
            .publicationTermBufferLength(options.termLength())
            .ipcPublicationTermWindowLength(Math.min(options.termLength() / 2, 512 * 1024))
            .publicationLingerTimeoutNs(TimeUnit.MILLISECONDS.toNanos(200))
            .imageLivenessTimeoutNs(TimeUnit.SECONDS.toNanos(3));
        MediaDriver driver = null;
        Aeron aeron = null;
        try {
            driver = MediaDriver.launchEmbedded(ctx);
            // the client's conductor runs in the switch thread's duty cycle (SwitchAgent), not on a thread of its own
            aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName())
                .useConductorAgentInvoker(true));
            return new SwitchHost(driver.aeronDirectoryName(), driver, aeron, options.idleMaxPark(), options.cutThrough(),
                options.directReceive(), options.inlineTransmit(), options.deferInterrupts());
        } catch (final RuntimeException e) {
            CloseHelper.quietCloseAll(aeron, driver);
            IoUtil.delete(new File(dir), true);
            throw e;
        }
    }

    /** The media driver's directory (for clients in other processes of this host: {@code aeron-dir}). */
    public String aeronDir() {
        return aeronDir;
    }

    /** Whether local ports of this host's switches forward on their own sending thread. */
    boolean cutThrough() {
        return cutThrough;
    }

    /** Whether this host's switches write frames for local ports straight into their devices. */
    boolean directReceive() {
        return directReceive;
    }

    /** Whether the switch and device threads run inline receive interrupts after releasing the forwarding lock. */
    boolean deferInterrupts() {
        return deferInterrupts;
    }

    /** Which kicking threads local ports of this host's switches let their devices transmit on. */
    InlineTransmit inlineTransmit() {
        return inlineTransmit;
    }

    /** The host's Aeron client (shared by every port joined through this host). */
    Aeron aeron() {
        return aeron;
    }

    /**
     * Start a switch on this host.
     *
     * @throws IllegalStateException when a switch of that name runs in this JVM already.
     */
    public VSwitch startSwitch(final SwitchSpec spec) {
        if (closed) {
            throw new IllegalStateException("switch host is closed");
        }
        final VSwitch sw = new VSwitch(this, aeron, spec);
        if (RUNNING.putIfAbsent(spec.name(), sw) != null) {
            sw.release();
            throw new IllegalStateException("a switch called " + spec.name() + " runs in this JVM already");
        }
        switches.add(sw);
        return sw;
    }

    /** The switches of this host. */
    public List<VSwitch> switches() {
        return List.copyOf(switches);
    }

    /** The running switch called {@code name}, on any host of this JVM. */
    public static Optional<VSwitch> find(final String name) {
        return Optional.ofNullable(RUNNING.get(name));
    }

    /** Names of the switches running in this JVM. */
    public static List<String> running() {
        return new ArrayList<>(RUNNING.keySet());
    }

    /** Control-path messages (a refused port, a failed downlink), oldest first. */
    public List<String> messages() {
        return List.copyOf(messages);
    }

    void log(final String message) {
        if (messages.size() < 1000) {
            messages.add(message);
        }
    }

    /** Stop {@code sw}: it leaves the switch thread, then its Aeron resources are released. */
    void remove(final VSwitch sw) {
        if (!switches.contains(sw)) {
            return;
        }
        RUNNING.remove(sw.name(), sw);
        final CompletableFuture<Void> done = new CompletableFuture<>();
        hostCommands.offer(() -> {
            switches.remove(sw);
            sw.release();
            done.complete(null);
        });
        try {
            done.get(10, TimeUnit.SECONDS);
        } catch (final Exception e) {
            switches.remove(sw);
            sw.release(); // the switch thread is gone or stuck: release from here
        }
    }

    /**
     * Stop every switch now; the switch thread, the client and the driver stop, and the driver's
     * directory is deleted, when the last port joined through this host's client has closed too (a
     * device thread may be polling one until its kernel's virtio stops).
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (final VSwitch sw : switches) {
            remove(sw);
        }
        release();
    }

    /** Take a reference for a port joined through this host's client; false once the host is gone. */
    boolean retain() {
        int n;
        do {
            n = refs.get();
            if (n <= 0) {
                return false;
            }
        } while (!refs.compareAndSet(n, n + 1));
        return true;
    }

    /** Drop a reference; the last one stops the thread, the client and the driver. */
    void release() {
        if (refs.decrementAndGet() == 0) {
            CloseHelper.quietCloseAll(runner, aeron, driver);
            IoUtil.delete(new File(aeronDir), true);
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (final IllegalStateException exiting) {
                // the JVM is shutting down: the hook runs anyway and finds nothing to delete
            }
        }
    }

    /**
     * Wake the switch thread if it is parked in its idle strategy (a port in this JVM just sent a
     * frame). Any thread; never blocks.
     */
    void wake() {
        final Thread t = switchThread;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    /** The duty cycle: host commands, then every switch. */
    private final class SwitchAgent implements Agent {
        @Override
        public void onStart() {
            switchThread = Thread.currentThread();
        }

        @Override
        public int doWork() {
            int work = aeron.conductorAgentInvoker().invoke(); // the client: images, keepalives, async results
            Runnable c;
            while ((c = hostCommands.poll()) != null) {
                c.run();
                work++;
            }
            final long now = System.nanoTime();
            for (final VSwitch sw : switches) {
                work += sw.doWork(now);
            }
            return work;
        }

        @Override
        public String roleName() {
            return "vswitch-host";
        }
    }
}
