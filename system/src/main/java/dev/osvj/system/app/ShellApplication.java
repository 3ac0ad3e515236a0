package dev.osvj.system.app;

import dev.osvj.kernel.KernelContext;

import java.util.List;

/** No application beyond the console shell: the kernel runs until poweroff or a signal. */
public final class ShellApplication implements Application {
    @Override
    public String name() {
        return "shell";
    }

    @Override
    public String description() {
        return "the console shell only";
    }

    @Override
    public void start(final KernelContext kernel, final List<String> args) {
        kernel.log().append("INFO", "app", "shell: the console is the application");
    }
}
