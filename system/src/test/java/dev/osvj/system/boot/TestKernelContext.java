package dev.osvj.system.boot;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Services;
import dev.osvj.kernel.console.ConsoleCommands;
import dev.osvj.kernel.log.KernelLog;
import dev.osvj.kernel.trace.Tracepoints;

import java.util.concurrent.atomic.AtomicInteger;

/** A kernel context for guardian tests: reference configuration, host clock, records poweroff. */
final class TestKernelContext implements KernelContext {
    final AtomicInteger powerOffCode = new AtomicInteger(-1);
    private final KernelLog log = new KernelLog("test", 256, System::nanoTime);
    private final ConsoleCommands commands = new ConsoleCommands();
    private final Tracepoints tracepoints = new Tracepoints();
    private final Services services = new Services();
    private final Config config = ConfigFactory.load();
    private final long start = System.nanoTime();

    @Override
    public String name() {
        return "test";
    }

    @Override
    public Config config() {
        return config;
    }

    @Override
    public KernelLog log() {
        return log;
    }

    @Override
    public ConsoleCommands commands() {
        return commands;
    }

    @Override
    public Tracepoints tracepoints() {
        return tracepoints;
    }

    @Override
    public KernelClock clock() {
        return KernelClock.SYSTEM;
    }

    @Override
    public Services services() {
        return services;
    }

    @Override
    public long bootStartNanos() {
        return start;
    }

    @Override
    public void powerOff(final int exitCode) {
        powerOffCode.set(exitCode);
    }
}
