package dev.osvj.sched.dispatch;

import dev.osvj.sched.Scheduler;

import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The {@code ExecutorService} a Pekko dispatcher of kernel instance {@code kernel} runs mailboxes on:
 * each task goes to the kernel's {@link Scheduler} ({@link Scheduler#submit}) while it accepts tasks,
 * else to the kernel's {@link BootCpu}. It owns no threads: {@link #shutdown()} (which Pekko calls
 * when the dispatcher has had no actors for {@code shutdown-timeout}, and at termination) only flips
 * the flag Pekko asks about; tasks that still arrive are run, never rejected, so no mailbox is lost.
 */
final class VcpuExecutorService extends AbstractExecutorService {
    private final String kernel;
    private final BootCpu bootCpu;
    private volatile Scheduler scheduler;
    private volatile boolean shutdown;

    VcpuExecutorService(final String kernel) {
        this.kernel = kernel;
        this.bootCpu = BootCpu.of(kernel);
    }

    @Override
    public void execute(final Runnable task) {
        Scheduler s = scheduler;
        if (s != null && s.submit(task)) {
            return;
        }
        s = Scheduler.lookup(kernel).orElse(null);
        scheduler = s;
        if (s != null && s.submit(task)) {
            return;
        }
        bootCpu.execute(task);
    }

    @Override
    public void shutdown() {
        shutdown = true;
    }

    @Override
    public List<Runnable> shutdownNow() {
        shutdown = true;
        return List.of();
    }

    @Override
    public boolean isShutdown() {
        return shutdown;
    }

    @Override
    public boolean isTerminated() {
        return shutdown;
    }

    @Override
    public boolean awaitTermination(final long timeout, final TimeUnit unit) {
        return shutdown;
    }
}
