package dev.osvj.sched.dispatch;

import com.typesafe.config.Config;
import org.apache.pekko.dispatch.DispatcherPrerequisites;
import org.apache.pekko.dispatch.ExecutorServiceConfigurator;
import org.apache.pekko.dispatch.ExecutorServiceFactory;

import java.util.concurrent.ThreadFactory;

/**
 * The Pekko {@code executor} of the kernel dispatcher: every mailbox run of a dispatcher configured
 * with {@code executor = "dev.osvj.sched.dispatch.VcpuExecutorConfigurator"} becomes a task on the
 * vCPUs of the kernel instance whose ActorSystem created the dispatcher (found by the ActorSystem's
 * name, which is the kernel's name). Before the vCPUs are up and after they stopped, the tasks run on
 * the kernel's boot CPU thread (see {@link VcpuDispatcher} for the whole picture).
 *
 * <p>Pekko instantiates this class reflectively with {@code (Config, DispatcherPrerequisites)}; the
 * thread factory Pekko passes is unused: the vCPUs are the only threads.
 */
public final class VcpuExecutorConfigurator extends ExecutorServiceConfigurator {
    private final String kernel;

    public VcpuExecutorConfigurator(final Config config, final DispatcherPrerequisites prerequisites) {
        super(config, prerequisites);
        this.kernel = prerequisites.settings().name();
    }

    @Override
    public ExecutorServiceFactory createExecutorServiceFactory(final String id, final ThreadFactory threadFactory) {
        return () -> new VcpuExecutorService(kernel);
    }
}
