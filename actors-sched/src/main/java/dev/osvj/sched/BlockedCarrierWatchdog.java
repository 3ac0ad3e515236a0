package dev.osvj.sched;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Reports a kernel thread that blocks its vCPU's carrier in a JDK call (sleep, park, monitor wait,
 * blocking I/O) for longer than {@code osvj.sched.blocked-carrier-threshold}: the whole vCPU stands
 * still meanwhile, which the scheduler cannot prevent (a kernel thread should block through
 * {@link KThread#waitUntil} and friends instead).
 *
 * <p>A daemon host thread samples every vCPU every threshold/4: when the same mount (the vCPU's mount
 * epoch, bumped at every switch) has lasted at least the threshold and the host thread running it is
 * parked, sleeping, blocked on a monitor, or inside a native method, the thread is reported once per
 * episode with its name and stack. A thread that merely computes for long without a preemption point
 * is not reported (it is on the CPU, just not polite).
 */
final class BlockedCarrierWatchdog implements Runnable {
    private final Scheduler scheduler;
    private final long thresholdNanos;
    private final long[] lastEpoch;
    private final long[] since;
    private final long[] reportedEpoch;
    private final AtomicLong reports = new AtomicLong();
    private volatile String lastReport;
    private volatile boolean running = true;
    private Thread thread;

    BlockedCarrierWatchdog(final Scheduler scheduler, final long thresholdNanos) {
        this.scheduler = scheduler;
        this.thresholdNanos = thresholdNanos;
        final int n = scheduler.cpus.length;
        this.lastEpoch = new long[n];
        this.since = new long[n];
        this.reportedEpoch = new long[n];
        java.util.Arrays.fill(reportedEpoch, -1);
    }

    void start(final String threadName) {
        thread = new Thread(this, threadName);
        thread.setDaemon(true);
        thread.start();
    }

    void stop() {
        running = false;
        if (thread != null) {
            thread.interrupt();
        }
    }

    long reports() {
        return reports.get();
    }

    String lastReport() {
        return lastReport;
    }

    @Override
    public void run() {
        final long periodMillis = Math.max(1, thresholdNanos / 4 / 1_000_000);
        while (running) {
            try {
                Thread.sleep(periodMillis);
            } catch (final InterruptedException e) {
                return;
            }
            check(System.nanoTime());
        }
    }

    void check(final long now) {
        final Cpu[] cpus = scheduler.cpus;
        for (int i = 0; i < cpus.length; i++) {
            final Cpu cpu = cpus[i];
            final long epoch = cpu.mountEpoch();
            final KThread t = cpu.running();
            if (t == null || epoch != lastEpoch[i]) {
                lastEpoch[i] = epoch;
                since[i] = now;
                continue;
            }
            if (now - since[i] < thresholdNanos || reportedEpoch[i] == epoch) {
                continue;
            }
            final Thread host = t.context.hostThread() != null ? t.context.hostThread() : cpu.carrier;
            if (host == null) {
                continue;
            }
            final Thread.State state = host.getState();
            final StackTraceElement[] stack = host.getStackTrace();
            final boolean blocked = state == Thread.State.WAITING || state == Thread.State.TIMED_WAITING
                || state == Thread.State.BLOCKED || state == Thread.State.RUNNABLE && stack.length > 0 && stack[0].isNativeMethod();
            if (!blocked || cpu.mountEpoch() != epoch) {
                continue;
            }
            reportedEpoch[i] = epoch;
            report(cpu, t, (now - since[i]) / 1_000_000, state, stack);
        }
    }

    private void report(final Cpu cpu, final KThread t, final long millis, final Thread.State state,
        final StackTraceElement[] stack) {
        final StringBuilder sb = new StringBuilder();
        sb.append("kernel thread '").append(t.name()).append("' (id ").append(t.id()).append(") has blocked vCPU ")
            .append(cpu.id).append("'s carrier for ").append(millis).append(" ms in a JDK call (")
            .append(state).append("); the vCPU runs nothing else meanwhile:");
        for (final StackTraceElement e : stack) {
            sb.append("\n\tat ").append(e);
        }
        final String text = sb.toString();
        lastReport = text;
        reports.incrementAndGet();
        scheduler.warn(text);
        final SchedEvents.BlockedCarrier e = new SchedEvents.BlockedCarrier();
        if (e.isEnabled()) {
            e.cpu = cpu.id;
            e.thread = t.name();
            e.blockedMillis = millis;
            e.topFrame = stack.length > 0 ? stack[0].toString() : "";
            e.commit();
        }
    }
}
