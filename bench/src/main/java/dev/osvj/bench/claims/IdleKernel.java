package dev.osvj.bench.claims;

import com.typesafe.config.Config;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.sched.CpuStats;
import dev.osvj.sched.Scheduler;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * A whole osvj kernel booted in this JVM with no application started: what "an idle kernel" means in
 * the tickless claim. Its counters come from the scheduler ({@link Scheduler#cpuStats()}); its CPU use
 * is the CPU time of the threads that carry the kernel's name (the vCPU carriers, the clock-event
 * device, the actor system's scheduler and dispatchers).
 */
final class IdleKernel implements AutoCloseable {
    final Kernel kernel;
    final Scheduler scheduler;

    private IdleKernel(final Kernel kernel) {
        this.kernel = kernel;
        this.scheduler = kernel.services().require(Scheduler.class);
    }

    /** Boot kernel {@code name} with extra configuration lines ({@code osvj.sched.tick = 100}). */
    static IdleKernel boot(final String name, final List<String> sets) throws Exception {
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        subsystems.forEach(s -> s.declareTracepoints(tracepoints));
        final List<String> all = new java.util.ArrayList<>(sets);
        all.addFirst("osvj.name=" + name);
        final Config config = KernelConfigLoader.load(null, all, new Properties(), subsystems, tracepoints);
        return new IdleKernel(Kernel.boot(config, subsystems, tracepoints,
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), KernelClock.SYSTEM));
    }

    /** A snapshot of the counters the claim compares. */
    record Snapshot(long nanos, long halts, long timerInterrupts, long timerWakeups, long ipis, long tasks, Map<Long, Long> threadCpu,
                    long processCpu) {
        /** Kernel threads' CPU time since {@code before}, nanoseconds. */
        long threadCpuSince(final Snapshot before) {
            long total = 0;
            for (final Map.Entry<Long, Long> e : threadCpu.entrySet()) {
                total += e.getValue() - before.threadCpu.getOrDefault(e.getKey(), 0L);
            }
            return total;
        }
    }

    Snapshot snapshot() {
        long halts = 0;
        long timer = 0;
        long timerWakeups = 0;
        long ipis = 0;
        long tasks = 0;
        for (final CpuStats c : scheduler.cpuStats()) {
            halts += c.halts();
            timer += c.timerInterrupts();
            timerWakeups += c.timerWakeups();
            ipis += c.ipisReceived();
            tasks += c.tasksRun();
        }
        final ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        final Map<Long, Long> cpu = new HashMap<>();
        for (final Thread t : dev.osvj.bench.census.ThreadCensus.liveThreads()) { // no safepoint stack dump
            if (t.getName().contains(kernel.name())) {
                final long ns = mx.getThreadCpuTime(t.threadId());
                if (ns >= 0) {
                    cpu.put(t.threadId(), ns);
                }
            }
        }
        long process = -1;
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            process = os.getProcessCpuTime();
        }
        return new Snapshot(System.nanoTime(), halts, timer, timerWakeups, ipis, tasks, cpu, process);
    }

    @Override
    public void close() throws Exception {
        kernel.powerOff(0);
        kernel.awaitPoweredOff(Duration.ofSeconds(30));
    }
}
