package dev.osvj.system.config;

import dev.osvj.kernel.config.ConfigSpec;

import java.time.Duration;
import java.util.regex.Pattern;

/** The kernel core's own keys (system module's reference.conf): instance, console, log, tracing. */
public final class KernelCoreConfig {
    private KernelCoreConfig() {
    }

    /** A name that is also a valid ActorSystem name. */
    public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,62}");

    public static void declare(final ConfigSpec spec) {
        spec.string("osvj.name", NAME, "a name of letters, digits, '-' and '_' (at most 63, starting with a letter or digit)");
        spec.integer("osvj.dmesg.lines", 16, 1_000_000);
        spec.string("osvj.trace.enable");
        spec.string("osvj.trace.file");
        spec.bool("osvj.console.enabled");
        spec.string("osvj.console.prompt");
        spec.duration("osvj.shutdown.timeout", Duration.ofMillis(100), Duration.ofMinutes(5));
        spec.bool("osvj.boot.chart");
        spec.string("osvj.net.pcap");
    }
}
