package dev.osvj.sched.dispatch;

import dev.osvj.sched.Scheduler;
import org.slf4j.LoggerFactory;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The "boot CPU" of a kernel instance: one host thread that runs dispatcher tasks while the vCPUs
 * are not up (the guardian and the subsystem supervisors start before the sched boot phase) and again
 * after they stopped (actor shutdown after poweroff). While the kernel's scheduler accepts tasks, the
 * boot CPU forwards what it finds in its queue to the vCPUs instead of running it, so nothing queued
 * here during the hand-over is stranded.
 *
 * <p>The thread exits after {@link #IDLE_EXIT_SECONDS} without work and is restarted on demand; it is
 * a daemon, so a forgotten kernel never keeps the JVM alive. No task is lost: {@link #execute} and the
 * thread's exit decision synchronise on the instance.
 */
final class BootCpu implements Runnable {
    static final long IDLE_EXIT_SECONDS = 2;
    private static final ConcurrentHashMap<String, BootCpu> BY_KERNEL = new ConcurrentHashMap<>();

    private final String kernel;
    private final LinkedBlockingQueue<Runnable> queue = new LinkedBlockingQueue<>();
    private boolean alive;
    private volatile Thread thread;

    private BootCpu(final String kernel) {
        this.kernel = kernel;
    }

    /** The boot CPU of kernel instance {@code kernel}. */
    static BootCpu of(final String kernel) {
        return BY_KERNEL.computeIfAbsent(kernel, BootCpu::new);
    }

    void execute(final Runnable task) {
        synchronized (this) {
            queue.offer(task);
            if (!alive) {
                alive = true;
                final Thread t = new Thread(this, "osvj-" + kernel + "-boot-cpu");
                t.setDaemon(true);
                thread = t;
                t.start();
            }
        }
    }

    /** True when the calling code runs on this boot CPU's thread. */
    boolean isCurrent() {
        return Thread.currentThread() == thread;
    }

    @Override
    public void run() {
        while (true) {
            final Runnable task;
            try {
                task = queue.poll(IDLE_EXIT_SECONDS, TimeUnit.SECONDS);
            } catch (final InterruptedException e) {
                continue; // nobody may stop the boot CPU but idleness
            }
            if (task == null) {
                synchronized (this) {
                    if (queue.isEmpty()) {
                        alive = false;
                        return;
                    }
                }
                continue;
            }
            final Scheduler s = Scheduler.lookup(kernel).orElse(null);
            if (s != null && s.submit(task)) {
                continue;
            }
            try {
                task.run();
            } catch (final Throwable e) {
                LoggerFactory.getLogger("osvj.sched").warn("boot-CPU task failed", e);
            }
        }
    }
}
