package dev.osvj.system.boot;

import com.typesafe.config.Config;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.pcap.PcapWriter;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.system.config.KernelConfigLoader;
import dev.osvj.system.console.ConsoleShell;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A whole kernel instance in this JVM: boot chart, console, poweroff, tracing, pcap. */
class KernelTest {
    @TempDir
    Path dir;

    private final List<Subsystem> subsystems = Subsystems.discover();

    private Kernel boot(final ByteArrayOutputStream console, final String... sets) throws Exception {
        final Tracepoints tracepoints = new Tracepoints();
        subsystems.forEach(s -> s.declareTracepoints(tracepoints));
        final Config config = KernelConfigLoader.load(null, List.of(sets), new Properties(), subsystems, tracepoints);
        return Kernel.boot(config, subsystems, tracepoints, new PrintStream(console, true, StandardCharsets.UTF_8), KernelClock.SYSTEM);
    }

    @Test
    void shouldPrintTheBootChartInBootOrderThenBootedUpIn() throws Exception {
        final ByteArrayOutputStream console = new ByteArrayOutputStream();
        final Kernel kernel = boot(console, "osvj.name=chart");
        try {
            final List<String> lines = console.toString(StandardCharsets.UTF_8).lines().toList();
            final List<String> chart = new ArrayList<>();
            for (final String line : lines) {
                if (line.matches(" .+: \\d+\\.\\d\\dms, \\(\\+\\d+\\.\\d\\dms\\)")) {
                    chart.add(line.substring(1, line.indexOf(": ")));
                }
            }
            final List<String> expected = new ArrayList<>();
            expected.add("actor system started");
            subsystems.forEach(s -> expected.add(s.phase()));
            assertEquals(expected, chart);
            assertTrue(lines.get(lines.size() - 1).matches("Booted up in \\d+\\.\\d\\d ms"), lines.toString());
        } finally {
            kernel.powerOff(0);
            assertEquals(0, kernel.awaitPoweredOff(Duration.ofSeconds(30)));
        }
    }

    @Test
    void shouldRunConsoleCommandsAndPowerOffFromTheConsole() throws Exception {
        final ByteArrayOutputStream console = new ByteArrayOutputStream();
        final Kernel kernel = boot(console, "osvj.name=console");
        final String input = "echo hello   'big world'\nnosuch thing\nuptime\ndmesg\npoweroff\necho never\n";
        final ConsoleShell shell = new ConsoleShell(kernel, new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)),
            new PrintStream(console, true, StandardCharsets.UTF_8), false, kernel::powerOffRequested);
        shell.start();
        assertEquals(0, kernel.awaitPoweredOff(Duration.ofSeconds(30)));
        shell.stop();
        final String out = console.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("/# hello big world\n"), out);
        assertTrue(out.contains("/# nosuch: command not found (try help)\n"), out);
        assertTrue(out.matches("(?s).*/# \\d\\d:\\d\\d:\\d\\d up 0:\\d\\d:\\d\\d\\.\\d{3}, 2 vCPUs\n.*"), out);
        assertTrue(out.contains("kernel: Booted up in"), out);
        assertTrue(out.contains("/# Powering off.\n"), out);
        assertFalse(out.contains("never"), out);
    }

    @Test
    void shouldFailTheBootNamingThePhaseAndStopWhatBooted() throws Exception {
        final List<Subsystem> withBroken = new ArrayList<>(subsystems);
        withBroken.add(new Subsystem() {
            @Override
            public String name() {
                return "broken";
            }

            @Override
            public int order() {
                return Order.NET + 1;
            }

            @Override
            public String phase() {
                return "broken devices probed";
            }

            @Override
            public void boot(final dev.osvj.kernel.BootContext context) {
                throw new IllegalStateException("device 0000:00:03.0 did not answer");
            }
        });
        final Tracepoints tracepoints = new Tracepoints();
        final Config config = KernelConfigLoader.load(null, List.of("osvj.name=broken"), new Properties(), subsystems, tracepoints);
        final BootException e = assertThrows(BootException.class, () -> Kernel.boot(config, withBroken, tracepoints,
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), KernelClock.SYSTEM));
        assertEquals("broken", e.subsystem());
        assertEquals("boot failed in phase \"broken devices probed\" (broken): device 0000:00:03.0 did not answer", e.getMessage());
    }

    @Test
    void shouldPowerOffABootedKernelWithoutMakingABootException() throws Exception {
        final Kernel kernel = boot(new ByteArrayOutputStream(), "osvj.name=quiet-stop");
        final Path jfr = dir.resolve("exceptions.jfr");
        try (jdk.jfr.Recording r = new jdk.jfr.Recording()) {
            r.enable("jdk.JavaExceptionThrow").withoutStackTrace();
            r.start();
            kernel.powerOff(0);
            assertEquals(0, kernel.awaitPoweredOff(Duration.ofSeconds(30)));
            r.stop();
            r.dump(jfr);
        }
        // The boot had finished: nothing may build the "stopped before the boot finished" failure.
        final long made = RecordingFile.readAllEvents(jfr).stream()
            .filter(e -> e.getEventType().getName().equals("jdk.JavaExceptionThrow"))
            .filter(e -> e.getClass("thrownClass").getName().equals(BootException.class.getName()))
            .count();
        assertEquals(0, made);
    }

    @Test
    void shouldRecordBootPhaseTracepointsToAJfrFile() throws Exception {
        final Path jfr = dir.resolve("trace.jfr");
        final Kernel kernel = boot(new ByteArrayOutputStream(), "osvj.name=traced", "osvj.trace.enable=\"boot.*\"",
            "osvj.trace.file=\"" + jfr + "\"");
        kernel.powerOff(0);
        assertEquals(0, kernel.awaitPoweredOff(Duration.ofSeconds(30)));
        final List<String> phases = new ArrayList<>();
        // Events come out of JFR's per-thread buffers, not in time order.
        final List<RecordedEvent> events = new ArrayList<>(RecordingFile.readAllEvents(jfr));
        events.sort(java.util.Comparator.comparing(RecordedEvent::getStartTime));
        for (final RecordedEvent event : events) {
            if (event.getEventType().getName().equals("osvj.boot.Phase") && "traced".equals(event.getString("kernel"))) {
                assertTrue(event.getBoolean("ok"));
                phases.add(event.getString("phase"));
            }
        }
        assertEquals(subsystems.stream().map(Subsystem::phase).toList(), phases);
    }

    @Test
    void shouldWriteAPcapFileWithTheEthernetLinkType() throws Exception {
        final Path pcap = dir.resolve("frames.pcap");
        final Kernel kernel = boot(new ByteArrayOutputStream(), "osvj.name=pcap", "osvj.net.pcap=\"" + pcap + "\"");
        final PcapWriter writer = kernel.services().require(PcapWriter.class);
        writer.write(1_700_000_000_123_456_789L, ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 8, 0}));
        kernel.powerOff(0);
        assertEquals(0, kernel.awaitPoweredOff(Duration.ofSeconds(30)));
        final ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(pcap)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(24 + 16 + 14, b.remaining());
        assertEquals(0xa1b2c3d4, b.getInt(0));
        assertEquals(1, b.getInt(20));
        assertEquals(1_700_000_000, b.getInt(24));
        assertEquals(123_456, b.getInt(28));
        assertEquals(14, b.getInt(32));
        assertEquals(14, b.getInt(36));
    }
}
