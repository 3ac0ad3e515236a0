package dev.osvj.sched.dispatch;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osvj.sched.Scheduler;

/**
 * The kernel dispatcher: how every actor of a kernel instance runs on its vCPUs.
 *
 * <h2>Use</h2>
 * The kernel's boot code puts {@link #pekkoConfig()} in front of the ActorSystem's configuration:
 * <pre>{@code
 * Config pekko = VcpuDispatcher.pekkoConfig().withFallback(kernelConfig);
 * ActorSystem<?> system = ActorSystem.create(guardian, kernelName, pekko);
 * }</pre>
 * Then {@code pekko.actor.default-dispatcher} and {@code pekko.actor.internal-dispatcher} run each
 * mailbox as a task on a vCPU ({@link VcpuExecutorConfigurator}); nothing of the kernel runs on Pekko's
 * fork-join pools. Pekko's scheduler (timer) thread and the vCPU carriers themselves
 * ({@code osvj-vcpu-carrier}, a PinnedDispatcher) are the only other threads.
 *
 * <h2>Phases of a kernel's life</h2>
 * <ol>
 *   <li><b>Boot CPU.</b> The guardian and the subsystem supervisors start before the sched boot
 *       phase: their mailboxes run on one host thread, the kernel's boot CPU ({@link BootCpu}).</li>
 *   <li><b>vCPUs.</b> {@link dev.osvj.sched.SchedSubsystem} starts the scheduler, which registers
 *       under the kernel's name; from then on every new task goes to a vCPU queue
 *       ({@link Scheduler#submit}): the submitting vCPU's own when an actor sends from a vCPU, else
 *       round-robin. Each vCPU's {@code dispatcher/N} kernel thread runs its queue with a
 *       preemption point after every mailbox run and steals from the other queues when idle. Tasks
 *       still queued on the boot CPU are forwarded to the vCPUs.</li>
 *   <li><b>After stop.</b> The scheduler unregisters first, so new tasks go back to the boot CPU
 *       (a submit that races with the stop takes its task back); each vCPU worker runs or spills (to
 *       the boot CPU, see {@link #attach}) what it had queued before the vCPUs stop. The kernel's
 *       subsystem supervisor stops right after the sched stop hook and stops the vCPU actors with it,
 *       usually before their loops have finished: each vCPU then finishes its loop on its carrier in
 *       the actor's {@code PostStop}, so a worker suspended there (in its queue or in a mailbox run)
 *       still completes. No task is lost and nothing waits for a stopped vCPU, so the ActorSystem
 *       terminates normally: Pekko's own system actors and CoordinatedShutdown run on the boot CPU.</li>
 * </ol>
 *
 * <h2>shutdown-timeout</h2>
 * A Pekko dispatcher that has had no actors for {@code shutdown-timeout} (default 1 s) shuts its
 * executor down and builds a new one on next use (DESIGN.md section 7). Our executor owns no threads,
 * so that would be harmless, but the churn is pointless: the overrides raise it to one hour.
 *
 * <h2>Limits</h2>
 * A mailbox run that blocks in a kernel primitive blocks its vCPU's worker (other workers steal the
 * queued tasks); one that blocks in a JDK call blocks the whole vCPU and is reported by the
 * blocked-carrier watchdog. A mailbox run is not preempted in the middle unless it reaches a
 * preemption point (see the {@code dev.osvj.sched} package documentation).
 */
public final class VcpuDispatcher {
    /** The executor FQCN used in the overrides. */
    public static final String EXECUTOR = VcpuExecutorConfigurator.class.getName();

    private VcpuDispatcher() {
    }

    /**
     * The Pekko configuration overrides that put a kernel's dispatchers on its vCPUs (see the class
     * documentation); use with {@code pekkoConfig().withFallback(rest)}.
     */
    public static Config pekkoConfig() {
        return ConfigFactory.parseString("""
            pekko.actor.default-dispatcher {
              type = "Dispatcher"
              executor = "%1$s"
              throughput = 5
              shutdown-timeout = 1h
            }
            pekko.actor.internal-dispatcher {
              type = "Dispatcher"
              executor = "%1$s"
              throughput = 5
              shutdown-timeout = 1h
            }
            %2$s {
              type = PinnedDispatcher
              executor = "thread-pool-executor"
              thread-pool-executor.allow-core-timeout = off
            }
            """.formatted(EXECUTOR, Scheduler.CARRIER_DISPATCHER), ConfigParseOptionsHolder.OPTIONS);
    }

    /**
     * Wire {@code scheduler} to its kernel's boot CPU: tasks still queued on the vCPUs when the
     * scheduler stops are handed to the boot CPU. Called by the sched subsystem before it starts the
     * scheduler.
     */
    public static void attach(final Scheduler scheduler) {
        final BootCpu boot = BootCpu.of(scheduler.name());
        scheduler.setTaskSpill(boot::execute);
    }

    private static final class ConfigParseOptionsHolder {
        static final com.typesafe.config.ConfigParseOptions OPTIONS =
            com.typesafe.config.ConfigParseOptions.defaults().setOriginDescription("VcpuDispatcher.pekkoConfig()");
    }
}
