package dev.osvj.vswitch;

import dev.osvj.kernel.KernelClock;
import dev.osvj.sched.SchedConfig;
import dev.osvj.sched.Scheduler;
import dev.osvj.sched.ThreadAttr;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link SwitchHost.InlineTransmit}: which kicking threads a local port lets its device transmit on
 * ({@link SwitchPort#transmitsInline}, read by the device at every kick on the kicking thread):
 * {@code OFF} none, {@code HOST_THREADS} host threads but not kernel threads, {@code ALL} both; and the
 * config value of each mode.
 */
class InlineTransmitModeTest {
    private static final ActorTestKit KIT = ActorTestKit.create();

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    /** {@code port.transmitsInline()} as a kernel thread of {@code kernel} sees it. */
    private static boolean onKernelThread(final Scheduler kernel, final SwitchPort port) throws Exception {
        final CompletableFuture<Boolean> seen = new CompletableFuture<>();
        kernel.spawn(ThreadAttr.named("kicker"), () -> seen.complete(port.transmitsInline()));
        return seen.get(30, TimeUnit.SECONDS);
    }

    /** What a host thread and a kernel thread see on a port of a host started in {@code mode}. */
    private static boolean[] seen(final Scheduler kernel, final SwitchHost.InlineTransmit mode) throws Exception {
        try (SwitchHost host = SwitchHost.start(SwitchHost.Options.defaults().withInlineTransmit(mode))) {
            final VSwitch sw = host.startSwitch(SwitchSpec.of("t-mode-" + mode.configName()));
            try (SwitchPort port = sw.connect("p")) {
                return new boolean[] {port.transmitsInline(), onKernelThread(kernel, port)};
            }
        }
    }

    @Test
    void shouldTransmitInlineOnTheKickingThreadsItsModeNames() throws Exception {
        final Scheduler kernel = Scheduler.create("inline-mode", SchedConfig.defaults(1), KernelClock.SYSTEM, null);
        kernel.start((b, n, p) -> KIT.spawn(b, kernel.name() + "-" + n, p));
        try {
            final boolean[] off = seen(kernel, SwitchHost.InlineTransmit.OFF);
            assertFalse(off[0], "off: not on a host thread");
            assertFalse(off[1], "off: not on a kernel thread");
            final boolean[] hostThreads = seen(kernel, SwitchHost.InlineTransmit.HOST_THREADS);
            assertTrue(hostThreads[0], "host-threads: on a host thread");
            assertFalse(hostThreads[1], "host-threads: a kernel thread's kick wakes the device thread");
            final boolean[] all = seen(kernel, SwitchHost.InlineTransmit.ALL);
            assertTrue(all[0], "all: on a host thread");
            assertTrue(all[1], "all: on a kernel thread");
        } finally {
            kernel.stop(Duration.ofSeconds(30));
        }
    }

    @Test
    void shouldNameItsModesAsTheConfigDoes() {
        for (final SwitchHost.InlineTransmit m : SwitchHost.InlineTransmit.values()) {
            assertEquals(m, SwitchHost.InlineTransmit.ofConfig(m.configName()));
        }
        assertEquals("host-threads", SwitchHost.InlineTransmit.HOST_THREADS.configName());
        assertEquals(SwitchHost.InlineTransmit.ALL, SwitchHost.Options.defaults().inlineTransmit());
    }
}
