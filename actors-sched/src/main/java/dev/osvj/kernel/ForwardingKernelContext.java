package dev.osvj.kernel;

import com.typesafe.config.Config;
import dev.osvj.kernel.console.ConsoleCommands;
import dev.osvj.kernel.log.KernelLog;
import dev.osvj.kernel.trace.Tracepoints;

/**
 * A kernel context that delegates every call to another; subclasses add to it (a boot phase's
 * context adds the supervisor's actor context and boot notes).
 */
public class ForwardingKernelContext implements KernelContext {
    private final KernelContext delegate;

    public ForwardingKernelContext(final KernelContext delegate) {
        this.delegate = delegate;
    }

    @Override
    public String name() {
        return delegate.name();
    }

    @Override
    public Config config() {
        return delegate.config();
    }

    @Override
    public KernelLog log() {
        return delegate.log();
    }

    @Override
    public ConsoleCommands commands() {
        return delegate.commands();
    }

    @Override
    public Tracepoints tracepoints() {
        return delegate.tracepoints();
    }

    @Override
    public KernelClock clock() {
        return delegate.clock();
    }

    @Override
    public Services services() {
        return delegate.services();
    }

    @Override
    public long bootStartNanos() {
        return delegate.bootStartNanos();
    }

    @Override
    public void powerOff(final int exitCode) {
        delegate.powerOff(exitCode);
    }
}
