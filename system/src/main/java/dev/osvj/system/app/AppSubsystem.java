package dev.osvj.system.app;

import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.system.boot.ServiceProviders;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The application subsystem: boots last, resolves {@code osvj.app.name} to an {@link Application} and
 * publishes an {@link AppLauncher} that starts it once the boot chart is printed.
 */
public final class AppSubsystem implements Subsystem {
    /** Starts the configured application with its arguments. */
    public record AppLauncher(Application application, List<String> args) {
        /** {@code Cmdline: memcached -m 64}. */
        public String cmdline() {
            return args.isEmpty() ? application.name() : application.name() + " " + String.join(" ", args);
        }

        public void start(final KernelContext kernel) throws Exception {
            application.start(kernel, args);
        }
    }

    private final Map<String, Application> applications = new TreeMap<>();

    public AppSubsystem() {
        for (final Application a : ServiceProviders.instances(Application.class)) {
            applications.put(a.name(), a);
        }
    }

    @Override
    public String name() {
        return "app";
    }

    @Override
    public int order() {
        return Order.APP;
    }

    @Override
    public String phase() {
        return "application loaded";
    }

    @Override
    public void declareConfig(final ConfigSpec spec) {
        spec.oneOf("osvj.app.name", applications.keySet().toArray(String[]::new));
        spec.stringList("osvj.app.args");
        spec.oneOf("osvj.app.threads", "auto", "kernel", "platform");
    }

    /**
     * The threads a built-in server runs on, as {@code osvj.app.threads} says: {@code kernel}
     * (application kernel threads on the vCPUs), {@code platform} (host platform threads, for
     * comparison), or {@code auto}: kernel threads when {@code kernelSafe} (the server blocks only in
     * socket calls and kernel primitives), platform threads otherwise.
     */
    public static EpollServer.Threads threads(final KernelContext kernel, final boolean kernelSafe) {
        final String mode = kernel.config().getString("osvj.app.threads");
        final String resolved = "auto".equals(mode) ? (kernelSafe ? "kernel" : "platform") : mode;
        return EpollServer.Threads.of(resolved, dev.osvj.api.Syscalls.of(kernel), kernel.config().getInt("osvj.cpus"));
    }

    @Override
    public void boot(final BootContext context) {
        final Application app = applications.get(context.config().getString("osvj.app.name"));
        final List<String> args = List.copyOf(context.config().getStringList("osvj.app.args"));
        context.services().provide(AppLauncher.class, new AppLauncher(app, args));
    }

    @Override
    public void stop(final KernelContext context) throws Exception {
        final AppLauncher launcher = context.services().find(AppLauncher.class).orElse(null);
        if (launcher != null) {
            launcher.application().stop(context);
        }
    }
}
