package dev.osvj.sched;

import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.log.KernelLog;
import dev.osvj.sched.arch.ContextSwitch;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.IntConsumer;

/**
 * The scheduler of one kernel instance: its vCPUs, its kernel threads, its clock-event device, the
 * blocked-carrier watchdog and the kernel dispatcher's task queues. Published by {@link SchedSubsystem}
 * as a service ({@code services().require(Scheduler.class)}) and findable by kernel name
 * ({@link #lookup}).
 *
 * <p>Lifecycle: {@link #create} (threads may already be created and started: they wait as
 * PRESTARTED), {@link #start} (spawns one {@link VcpuActor} per vCPU on a dedicated carrier thread
 * and starts the clock device), {@link #stop} (the dispatcher's workers drain their queues, then the
 * vCPUs stop; kernel threads still alive are abandoned, as at poweroff).
 *
 * <p>The kernel dispatcher: {@link #submit} queues a task (an actor mailbox run) on a vCPU: the
 * caller's own vCPU when called from a kernel thread, else round-robin. Each vCPU has one pinned worker
 * kernel thread ({@code dispatcher/N}) that runs its queue with a preemption point after every task
 * and steals from the other queues when its own is empty, so mailbox runs share the vCPUs with every
 * other kernel thread under the same fair policy.
 */
public final class Scheduler {
    /** Config path of the Pekko dispatcher that gives each vCPU actor its own carrier thread. */
    public static final String CARRIER_DISPATCHER = "osvj-vcpu-carrier";

    private static final Logger LOG = LoggerFactory.getLogger("osvj.sched");
    private static final ConcurrentHashMap<String, Scheduler> REGISTRY = new ConcurrentHashMap<>();
    /** OSv wraps thread ids below UINT_MAX - 4096. */
    private static final long ID_WRAP = 0xFFFF_FFFFL - 4096;
    /** How long a vCPU stopped by its parent may take to finish when {@link #stop} did not say. */
    private static final long DEFAULT_DRAIN_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(3);

    /** How {@link #start} spawns the vCPU actors: an {@code ActorContext} or an {@code ActorTestKit}. */
    @FunctionalInterface
    public interface Spawner {
        ActorRef<?> spawn(Behavior<?> behavior, String name, Props props);
    }

    private final String name;
    private final SchedConfig config;
    private final KernelClock clock;
    private final ContextSwitch arch;
    private final KernelLog log;
    final Cpu[] cpus;
    private final ClockDevice device;
    private final ConcurrentHashMap<Long, KThread> threads = new ConcurrentHashMap<>();
    private final List<KThread> prestarted = new ArrayList<>();
    private final AtomicInteger roundRobin = new AtomicInteger();
    private final Object idLock = new Object();
    private long nextId = 1;
    private BlockedCarrierWatchdog watchdog;
    private volatile boolean started;
    private volatile boolean accepting;
    private boolean stopRequested; // guarded by prestarted
    volatile boolean stopping;
    volatile boolean forced;
    private volatile long drainTimeoutNanos = DEFAULT_DRAIN_TIMEOUT_NANOS;
    private volatile Consumer<Runnable> taskSpill = Runnable::run;
    /** Run by a vCPU right before it resumes an application thread (see {@link #onApplicationSwitchIn}). */
    volatile IntConsumer applicationSwitchInHook;

    private Scheduler(final String name, final SchedConfig config, final KernelClock clock, final KernelLog log) {
        this.name = name;
        this.config = config;
        this.clock = clock;
        this.log = log;
        this.arch = ContextSwitch.forName(config.arch());
        this.cpus = new Cpu[config.cpus()];
        for (int i = 0; i < cpus.length; i++) {
            cpus[i] = new Cpu(i, this, clock, cpus.length, config);
        }
        this.device = clock instanceof ManualClock manual
            ? manual.newDevice(config.tickHz())
            : new HostClockDevice(clock, "osvj-" + name + "-clockevent", config.tickHz());
    }

    /**
     * A scheduler that is not running yet.
     *
     * @param name   the kernel instance's name (its ActorSystem's name); the dispatcher finds the
     *               scheduler by it.
     * @param clock  the kernel clock; a {@link ManualClock} gives tests virtual time.
     * @param log    the kernel log for reports, or null to log through SLF4J.
     */
    public static Scheduler create(final String name, final SchedConfig config, final KernelClock clock,
        final KernelLog log) {
        return new Scheduler(name, config, clock, log);
    }

    /** The running scheduler of kernel instance {@code kernelName}, if any. */
    public static Optional<Scheduler> lookup(final String kernelName) {
        return Optional.ofNullable(REGISTRY.get(kernelName));
    }

    /** Spawn the vCPU actors as children of {@code parent} and start scheduling. */
    public void start(final ActorContext<?> parent) {
        start(parent::spawn);
    }

    /** Spawn the vCPU actors with {@code spawner} and start scheduling. */
    @SuppressWarnings("unchecked")
    public void start(final Spawner spawner) {
        synchronized (prestarted) {
            if (started) {
                throw new IllegalStateException("scheduler already started");
            }
            for (final Cpu cpu : cpus) {
                final ActorRef<VcpuActor.Command> ref = (ActorRef<VcpuActor.Command>)spawner.spawn(
                    VcpuActor.create(cpu, config.balanceInterval()), "vcpu-" + cpu.id,
                    DispatcherSelector.fromConfig(CARRIER_DISPATCHER));
                cpu.attach(device, ref);
            }
            device.start(cpus);
            for (final Cpu cpu : cpus) {
                final int id = cpu.id;
                cpu.worker = newThread(ThreadAttr.named("dispatcher/" + id).pinnedTo(id), () -> workerLoop(cpus[id]));
            }
            started = true;
            for (final Cpu cpu : cpus) {
                startThread(cpu.worker);
            }
            for (final KThread t : prestarted) {
                t.setState(ThreadState.WAITING);
                t.wakeFrom(null);
            }
            prestarted.clear();
            accepting = true;
        }
        watchdog = new BlockedCarrierWatchdog(this, config.blockedCarrierThreshold().toNanos());
        watchdog.start("osvj-" + name + "-watchdog");
        REGISTRY.put(name, this);
        for (final Cpu cpu : cpus) {
            cpu.actor.tell(VcpuActor.Start.BOOT);
        }
    }

    /**
     * Stop: new dispatcher tasks go to the spill (see {@link #setTaskSpill}); each vCPU's worker runs
     * or spills what is queued and ends; then the vCPUs stop. Waits up to {@code timeout} unless
     * called on a vCPU (it must not wait for itself); after the timeout the vCPUs stop at their next
     * switch whatever runs.
     *
     * <p>The vCPU actors may be stopped by their parent before their loops have finished (the
     * kernel's subsystem supervisor stops right after this stop hook returns, and its children with
     * it): each then finishes its vCPU on its carrier in {@code PostStop} (see
     * {@link VcpuActor}), so the stop completes either way.
     *
     * @return true when every vCPU stopped within the timeout (always false when called on a vCPU).
     */
    public boolean stop(final Duration timeout) {
        if (!started || stopping) {
            return !started || allStopped();
        }
        drainTimeoutNanos = timeout.toNanos();
        requestStop();
        final CompletableFuture<Void> all = CompletableFuture.allOf(
            java.util.Arrays.stream(cpus).map(c -> c.stopped).toArray(CompletableFuture[]::new));
        final boolean onVcpu = Cpu.current() != null && Cpu.current().scheduler == this;
        boolean ok = false;
        if (!onVcpu) {
            try {
                all.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
                ok = true;
            } catch (final Exception e) {
                force();
            }
        }
        if (ok) {
            shutdownDevices(); // done when we return (requestStop's callback may still be running)
        }
        return ok;
    }

    /**
     * Begin stopping without waiting (idempotent): unregister (new dispatcher tasks go to the spill),
     * refuse tasks, and ask every vCPU to stop once its worker has drained its queue. Also called by
     * a vCPU actor that was stopped before {@link #stop} ran.
     */
    void requestStop() {
        synchronized (prestarted) {
            if (!started || stopRequested) {
                return;
            }
            stopRequested = true;
        }
        REGISTRY.remove(name, this);
        // Order matters (see submit): accepting is cleared before stopping is set, and a worker only
        // ends after it has seen stopping.
        accepting = false;
        stopping = true;
        for (final Cpu cpu : cpus) {
            cpu.stopRequested = true;
            cpu.kick();
            if (cpu.worker != null) {
                cpu.worker.wake();
            }
            cpu.actor.tell(VcpuActor.Stop.REQUEST);
        }
        final CompletableFuture<Void> all = CompletableFuture.allOf(
            java.util.Arrays.stream(cpus).map(c -> c.stopped).toArray(CompletableFuture[]::new));
        all.whenComplete((v, e) -> shutdownDevices());
    }

    /**
     * The stop did not finish in time: every vCPU stops at its next switch whatever runs; kernel
     * threads still alive are abandoned and the dispatcher tasks still queued are spilled.
     */
    void force() {
        if (forced) {
            return;
        }
        forced = true;
        for (final Cpu cpu : cpus) {
            cpu.kick();
            cpu.actor.tell(VcpuActor.Resume.CONTINUE);
        }
    }

    /** How long a vCPU whose actor was stopped may take to finish its loop ({@link #stop}'s timeout). */
    long drainTimeoutNanos() {
        return drainTimeoutNanos;
    }

    private synchronized void shutdownDevices() {
        device.stop();
        if (watchdog != null) {
            watchdog.stop();
        }
        rescueTasks();
        for (final KThread t : threads.values()) {
            if (t.state() != ThreadState.TERMINATED) {
                t.context.dispose();
            }
        }
    }

    private boolean allStopped() {
        for (final Cpu cpu : cpus) {
            if (!cpu.stopped.isDone()) {
                return false;
            }
        }
        return true;
    }

    /** True between {@link #start} and {@link #stop}. */
    public boolean isRunning() {
        return started && !stopping;
    }

    // ---------------------------------------------------------------------------------------------
    // Threads

    /** Create an UNSTARTED kernel thread. */
    public KThread newThread(final ThreadAttr attr, final Runnable body) {
        if (attr.pinnedCpu() >= cpus.length) {
            throw new IllegalArgumentException("no vCPU " + attr.pinnedCpu() + " (have " + cpus.length + ")");
        }
        final KThread t = new KThread(this, allocateId(), attr, body, arch);
        threads.put(t.id(), t);
        return t;
    }

    /** Create and start a kernel thread. */
    public KThread spawn(final ThreadAttr attr, final Runnable body) {
        final KThread t = newThread(attr, body);
        t.start();
        return t;
    }

    /** Create and start a kernel thread with default attributes. */
    public KThread spawn(final String threadName, final Runnable body) {
        return spawn(ThreadAttr.named(threadName), body);
    }

    private long allocateId() {
        synchronized (idLock) {
            while (true) {
                final long id = nextId++;
                if (nextId >= ID_WRAP) {
                    nextId = 1;
                }
                if (!threads.containsKey(id)) {
                    return id;
                }
            }
        }
    }

    void startThread(final KThread t) {
        final Cpu target;
        if (t.pinnedCpu >= 0) {
            target = cpus[t.pinnedCpu];
        } else {
            final Cpu here = Cpu.current();
            target = here != null && here.scheduler == this ? here : cpus[Math.floorMod(roundRobin.getAndIncrement(), cpus.length)];
        }
        t.cpu = target;
        synchronized (prestarted) {
            if (!t.casState(ThreadState.UNSTARTED, ThreadState.WAITING)) {
                throw new IllegalStateException("thread already started: " + t);
            }
            if (!started) {
                t.setState(ThreadState.PRESTARTED);
                prestarted.add(t);
                return;
            }
        }
        t.wakeFrom(Cpu.current());
    }

    void threadEnded(final KThread t) {
        if (t.isDetached()) {
            reap(t);
        }
    }

    void reap(final KThread t) {
        threads.remove(t.id(), t);
    }

    void uncaught(final KThread t, final Throwable e) {
        warn("kernel thread '" + t.name() + "' (id " + t.id() + ") died: " + e);
        LOG.debug("kernel thread {} died", t.name(), e);
    }

    void warn(final String text) {
        if (log != null) {
            log.append("WARN", "sched", text);
        } else {
            LOG.warn(text);
        }
    }

    /** Live and joinable threads, by id. */
    public List<KThread> threads() {
        final List<KThread> out = new ArrayList<>(threads.values());
        out.sort(Comparator.comparingLong(KThread::id));
        return out;
    }

    /** Counters of every vCPU. */
    public List<CpuStats> cpuStats() {
        final List<CpuStats> out = new ArrayList<>(cpus.length);
        for (final Cpu cpu : cpus) {
            out.add(cpu.stats());
        }
        return out;
    }

    /**
     * Per vCPU, its pending interrupt state for hang reports (a racy snapshot, any thread): run state,
     * interrupt word, pending mask, queued wakeups, balancer ticks, wakeup messages sent. A halted vCPU
     * with anything pending has lost an IPI (see the halt protocol in {@code Cpu}).
     */
    public List<String> describePendingInterrupts() {
        final List<String> out = new ArrayList<>(cpus.length);
        for (final Cpu cpu : cpus) {
            out.add(cpu.describePending());
        }
        return out;
    }

    /** Blocked-carrier reports so far (see {@code osvj.sched.blocked-carrier-threshold}). */
    public long blockedCarrierReports() {
        return watchdog == null ? 0 : watchdog.reports();
    }

    /** The text of the last blocked-carrier report, or null. */
    public String lastBlockedCarrierReport() {
        return watchdog == null ? null : watchdog.lastReport();
    }

    Cpu cpu(final int id) {
        if (id < 0 || id >= cpus.length) {
            throw new IllegalArgumentException("no vCPU " + id + " (have " + cpus.length + ")");
        }
        return cpus[id];
    }

    public int cpuCount() {
        return cpus.length;
    }

    /**
     * The vCPU the caller runs on: its kernel thread's vCPU, or the vCPU whose scheduler loop the
     * carrier runs; -1 outside this scheduler's vCPUs. Stable until the calling kernel thread next
     * blocks or reaches a preemption point (only then can it move to another vCPU).
     */
    public int currentCpu() {
        final Cpu c = Cpu.current();
        return c != null && c.scheduler == this ? c.id : -1;
    }

    /**
     * True while vCPU {@code cpu} runs an application thread ({@link ThreadAttr#asApplication()}); false
     * when it runs kernel threads or is idle. A volatile read. The vCPU stores it before it resumes
     * the thread and then runs the {@link #onApplicationSwitchIn} hook.
     */
    public boolean runningApplication(final int cpu) {
        return cpu(cpu).runningApplication;
    }

    /**
     * Install the hook a vCPU runs (argument: its id) each time it is about to resume an application
     * thread, after publishing {@link #runningApplication} and before the thread runs (OSv's lazy TLB
     * flush at context switch). It runs on the vCPU's carrier in scheduler context: it must be short
     * and must not block. One hook; a second call replaces it; null removes it.
     */
    public void onApplicationSwitchIn(final IntConsumer hook) {
        this.applicationSwitchInHook = hook;
    }

    // ----- halt wait (the user gateway's selector as the vCPUs' halt) ----------------------------------

    /** The idle vCPUs' wait source, or null (see {@link HaltWait}). */
    volatile HaltWait haltWait;

    /**
     * Install the source idle vCPUs wait on instead of halting into their mailboxes ({@link HaltWait});
     * one at a time, a second call replaces it, null removes it. vCPUs halted in their mailboxes get an
     * IPI so they go idle again into the new wait; vCPUs waiting on the old one are woken through it.
     */
    public synchronized void setHaltWait(final HaltWait wait) {
        this.haltWait = wait;
        for (final Cpu c : cpus) {
            c.haltWaitChanged(); // a vCPU halted in its mailbox comes round to the new wait
        }
    }

    /**
     * Install {@code wait} as by {@link #setHaltWait} unless another wait source is installed already
     * (two devices that both offer one, e.g. the user gateway's vcpu-select and the switch's vcpu-park:
     * the first to boot keeps the idle vCPUs).
     *
     * @return true when {@code wait} is now the installed source.
     */
    public synchronized boolean installHaltWait(final HaltWait wait) {
        if (haltWait != null && haltWait != wait) {
            return false;
        }
        setHaltWait(wait);
        return true;
    }

    /** Waits of idle vCPUs in the {@link HaltWait} (each one a sleep, like a halt, and a wake-up). */
    public long haltWaits() {
        long n = 0;
        for (final Cpu c : cpus) {
            n += c.haltWaits;
        }
        return n;
    }

    /** The directed-yield counters of this kernel's vCPUs ({@link DirectedYield}; zeros when none was installed). */
    public DirectedYield.Stats directedYields() {
        long lent = 0;
        long lendings = 0;
        long deferred = 0;
        long expired = 0;
        long givenBack = 0;
        long wakeups = 0;
        for (final Cpu c : cpus) {
            lent += c.lentRuns;
            lendings += c.lendings;
            deferred += c.deferredWakeups;
            expired += c.deferralsExpired.get();
            givenBack += c.givenBack;
            wakeups += c.carrierWakeups.get();
        }
        return new DirectedYield.Stats(lent, lendings, deferred, expired, givenBack, wakeups);
    }

    public String name() {
        return name;
    }

    /** {@code osvj.sched.wake-affine}: sync wakeups may move a thread to the waker's vCPU ({@link Cpu#pullAffine}). */
    private volatile boolean wakeAffine;

    /** Whether sync wakeups may move a thread to the waker's vCPU ({@link Cpu#pullAffine}). */
    boolean wakeAffine() {
        return wakeAffine;
    }

    /**
     * Let sync wakeups ({@link KThread#wakeSync}) move a thread whose vCPU is halted to the waker's vCPU
     * ({@code osvj.sched.wake-affine}; off unless set). Any time, any thread.
     */
    public void setWakeAffine(final boolean on) {
        wakeAffine = on;
    }

    /** Threads sync wakeups moved to their waker's vCPU so far, over all vCPUs (racy sum). */
    public long affinePulls() {
        long n = 0;
        for (final Cpu c : cpus) {
            n += c.affinePulls;
        }
        return n;
    }

    public SchedConfig config() {
        return config;
    }

    public KernelClock clock() {
        return clock;
    }

    /** The arch layer in use ({@code continuation} or {@code platform}). */
    public String arch() {
        return arch.name();
    }

    // ---------------------------------------------------------------------------------------------
    // The kernel dispatcher

    /**
     * Queue {@code task} on a vCPU (see the class documentation).
     *
     * @return false when the scheduler does not accept tasks (not started or stopping): the caller
     *     must run it elsewhere.
     */
    public boolean submit(final Runnable task) {
        if (!accepting) {
            return false;
        }
        final Cpu here = Cpu.current();
        final Cpu target = here != null && here.scheduler == this
            ? here : cpus[Math.floorMod(roundRobin.getAndIncrement(), cpus.length)];
        target.tasks.offer(task);
        if (!target.worker.wake()) {
            for (final Cpu other : cpus) {
                if (other != target && other.worker.state() == ThreadState.WAITING && other.worker.wake()) {
                    break;
                }
            }
        }
        // A stop may have raced with the offer, and target's worker may already have drained and
        // ended. It ends only after reading stopping (set after accepting is cleared) and then polling
        // its own queue empty (workerLoop's final drain), so if it missed our offer we read
        // accepting == false here (all volatile: one synchronization order). Take the task back if
        // nobody has; if somebody has polled it, that thread runs it or spills it.
        if (!accepting && target.tasks.remove(task)) {
            return false;
        }
        return true;
    }

    /** Where tasks go that are queued when the scheduler stops (default: run on the caller). */
    public void setTaskSpill(final Consumer<Runnable> spill) {
        this.taskSpill = spill;
    }

    /** Every vCPU has stopped: spill what is still queued (a forced stop leaves tasks behind). */
    private void rescueTasks() {
        for (final Cpu cpu : cpus) {
            Runnable r;
            while ((r = cpu.tasks.poll()) != null) {
                taskSpill.accept(r);
            }
        }
    }

    private void workerLoop(final Cpu cpu) {
        while (true) {
            Runnable r = cpu.tasks.poll();
            if (r == null) {
                r = steal(cpu);
            }
            if (r == null) {
                if (stopping) {
                    break;
                }
                KThread.waitUntil(() -> stopping || anyTasks());
                continue;
            }
            try {
                r.run();
            } catch (final Throwable e) {
                warn("dispatcher task failed on vCPU " + cpu.id + ": " + e);
                LOG.debug("dispatcher task failed", e);
            }
            KThread.current().cpu.tasksRun++;
            KThread.preemptionPoint();
        }
        Runnable r;
        while ((r = cpu.tasks.poll()) != null) {
            taskSpill.accept(r);
        }
    }

    private Runnable steal(final Cpu self) {
        for (final Cpu other : cpus) {
            if (other != self) {
                final Runnable r = other.tasks.poll();
                if (r != null) {
                    return r;
                }
            }
        }
        return null;
    }

    private boolean anyTasks() {
        for (final Cpu cpu : cpus) {
            if (!cpu.tasks.isEmpty()) {
                return true;
            }
        }
        return false;
    }
}
