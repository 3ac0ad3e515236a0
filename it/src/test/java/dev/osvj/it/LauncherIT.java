package dev.osvj.it;

import dev.osvj.it.net.NetIT;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code bin/osvj} as a user runs it: a fresh shell with java 17 first on PATH and no JAVA_HOME. */
class LauncherIT {
    private static final Duration BOOT = Duration.ofMinutes(3);
    private static final Duration EXIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void shouldHaveAnOlderDefaultJavaOnThisMachineKind() throws Exception {
        // The launcher tests below are only meaningful if they run with a java < 25 first on PATH.
        assertNotNull(OsvjProcess.olderJdk(), "expected the machine's default JDK 17 under /usr/lib/jvm");
    }

    @Test
    void shouldBootServeMemcachedOnHostPort11211TakeConsoleCommandsAndPowerOff() throws Exception {
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "run")) {
            final String booted = osvj.awaitOut(l -> l.startsWith("Booted up in"), BOOT);
            assertTrue(booted.matches("Booted up in \\d+\\.\\d\\d ms"), booted);
            osvj.awaitOut(l -> l.equals("Cmdline: memcached -m 64 -p 11211 -c 1024"), EXIT);
            // conf/default.conf serves memcached at once, through the user gateway's forward of host port 11211
            // (to the guest's DHCP address: wait until it has it)
            NetIT.consoleUntil(osvj, "ifconfig eth0", l -> l.contains("inet 10.0.2.15  netmask 255.255.255.0"));
            assertEquals("VERSION 1.6.21\r\n", memcached("version\r\n", "VERSION 1.6.21\r\n".length()));
            assertEquals("STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n",
                memcached("set k 0 0 2\r\nhi\r\nget k\r\n", "STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n".length()));
            osvj.type("uptime");
            // "/# 15:01:12 up 0:00:03.118, 2 vCPUs": the shell's answer, not a boot line.
            final String uptime = osvj.awaitOut(l -> l.matches("(/# )?\\d\\d:\\d\\d:\\d\\d up \\d+:\\d\\d:\\d\\d\\.\\d{3}, 2 vCPUs"), EXIT);
            assertTrue(uptime.endsWith(", 2 vCPUs"), uptime);
            osvj.type("poweroff");
            osvj.awaitOut(l -> l.contains("Powering off."), EXIT);
            assertEquals(0, osvj.awaitExit(EXIT), () -> "stderr: " + osvj.stderr());
            final List<String> out = osvj.stdout();
            assertTrue(out.get(0).startsWith("osvj v"), out.toString());
            assertTrue(out.stream().anyMatch(l -> l.matches(" SMP launched: \\d+\\.\\d\\dms, \\(\\+\\d+\\.\\d\\dms\\)")), out.toString());
        }
    }

    /** One request to memcached at 127.0.0.1:11211; {@code length} bytes of the reply. */
    private static String memcached(final String request, final int length) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", 11211), 30_000);
            s.setSoTimeout(60_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readNBytes(length), StandardCharsets.US_ASCII);
        }
    }

    @Test
    void shouldBootTheConsoleShellConfiguration() throws Exception {
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "run", OsvjProcess.HOME.resolve("conf/shell.conf").toString())) {
            osvj.awaitOut(l -> l.equals("Cmdline: shell"), BOOT);
            osvj.type("poweroff");
            assertEquals(0, osvj.awaitExit(EXIT), () -> "stderr: " + osvj.stderr());
        }
    }

    @Test
    void shouldKeepRunningAfterStdinClosesUntilSigterm() throws Exception {
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "run")) {
            osvj.awaitOut(l -> l.startsWith("Booted up in"), BOOT);
            osvj.type("echo still here");
            osvj.awaitOut(l -> l.endsWith("still here"), EXIT);
            osvj.closeStdin();
            osvj.awaitOut(l -> l.contains("console: end of input"), EXIT);
            // End of input is not a poweroff: the kernel is still there a while later...
            assertFalse(osvj.exitsWithin(Duration.ofSeconds(2)), () -> "exited on end of input: " + osvj.stdout());
            // ...and SIGTERM shuts it down in order with exit code 0.
            new ProcessBuilder("kill", "-TERM", Long.toString(osvj.pid())).start().waitFor();
            assertEquals(0, osvj.awaitExit(EXIT), () -> "stderr: " + osvj.stderr());
        }
    }

    @Test
    void shouldExitTwoWithTheKeyExpectedAndGotForABadSetting() throws Exception {
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "run", "--set", "osvj.cpus=two")) {
            assertEquals(2, osvj.awaitExit(BOOT));
            assertTrue(osvj.stderr().contains("  osvj.cpus: expected an integer 1..64, got \"two\""), osvj.stderr().toString());
            assertTrue(osvj.stdout().stream().noneMatch(l -> l.contains("Booted")), "nothing may start: " + osvj.stdout());
        }
    }

    @Test
    void shouldExitTwoForABadConfigurationFile() throws Exception {
        final Path conf = dir.resolve("bad.conf");
        Files.writeString(conf, "osvj {\n  cpu = 4\n  app.name = nginx\n}\n");
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "run", conf.toString())) {
            assertEquals(2, osvj.awaitExit(BOOT));
            assertEquals(List.of("osvj: invalid configuration (" + conf + "):",
                "  osvj.app.name: expected one of echo, httpd, java, memcached, shell, got \"nginx\"",
                "  osvj.cpu: unknown key; did you mean osvj.cpus?"), osvj.stderr());
        }
    }

    @Test
    void shouldExitTwoForAnUnknownCommand() throws Exception {
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "frobnicate")) {
            assertEquals(2, osvj.awaitExit(BOOT));
            assertTrue(osvj.stderr().get(0).startsWith("osvj: Unmatched argument"), osvj.stderr().toString());
        }
    }

    @Test
    void shouldPrintTheVersion() throws Exception {
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "version")) {
            assertEquals(0, osvj.awaitExit(BOOT));
            assertTrue(osvj.stdout().get(0).matches("osvj \\S+ \\(Java 25.*, Pekko 1\\.7\\.0\\)"), osvj.stdout().toString());
        }
    }

    @Test
    void shouldSayWhatToInstallWhenThereIsNoJdk25() throws Exception {
        final Path emptyJvmDir = Files.createDirectories(dir.resolve("jvm"));
        try (OsvjProcess osvj = OsvjProcess.start(Map.of("OSVJ_JVM_DIR", emptyJvmDir.toString()), "run")) {
            assertEquals(2, osvj.awaitExit(EXIT));
            assertEquals(1, osvj.stderr().size(), osvj.stderr().toString());
            assertTrue(osvj.stderr().get(0).startsWith("osvj: needs a JDK 25 or newer"), osvj.stderr().toString());
        }
    }

    @Test
    void shouldRejectAnUnknownBenchSuiteWithTheListOfSuites() throws Exception {
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "bench", "nosuch", "--quick")) {
            assertEquals(2, osvj.awaitExit(BOOT));
            assertTrue(osvj.stderr().stream().anyMatch(l -> l.startsWith("osvj bench: unknown suite nosuch; suites: ")),
                osvj.stderr().toString());
        }
    }

    @Test
    void shouldStopInOrderOnSigint() throws Exception {
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "run")) {
            osvj.awaitOut(l -> l.startsWith("Booted up in"), BOOT);
            new ProcessBuilder("kill", "-INT", Long.toString(osvj.pid())).start().waitFor();
            assertEquals(0, osvj.awaitExit(EXIT), () -> "stderr: " + osvj.stderr());
        }
    }

    @Test
    void shouldWriteTracepointsThatJfrPrintReadsAndAPcapFile() throws Exception {
        final Path jfr = dir.resolve("boot.jfr");
        final Path pcap = dir.resolve("frames.pcap");
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "run", "--trace", "boot.*", "--set", "osvj.trace.file=" + jfr,
            "--pcap", pcap.toString())) {
            osvj.awaitOut(l -> l.startsWith("Booted up in"), BOOT);
            osvj.type("poweroff");
            assertEquals(0, osvj.awaitExit(EXIT), () -> "stderr: " + osvj.stderr());
        }
        // The JDK's own jfr tool reads the recording: one osvj.boot.Phase event per subsystem.
        final Path jfrTool = Path.of(ProcessHandle.current().info().command().orElseThrow()).resolveSibling("jfr");
        final Process print = new ProcessBuilder(jfrTool.toString(), "print", "--events", "osvj.boot.Phase", jfr.toString())
            .redirectErrorStream(true).start();
        final String text = new String(print.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, print.waitFor(), text);
        assertTrue(text.contains("osvj.boot.Phase {"), text);
        assertTrue(text.contains("phase = \"SMP launched\""), text);
        assertTrue(text.contains("phase = \"VFS initialized\""), text);
        // An empty capture is still a valid pcap: the 24-byte global header with LINKTYPE_ETHERNET.
        final byte[] header = Files.readAllBytes(pcap);
        assertTrue(header.length >= 24, "pcap length " + header.length);
        assertEquals((byte)0xd4, header[0]);
        assertEquals((byte)0xc3, header[1]);
        assertEquals((byte)0xb2, header[2]);
        assertEquals((byte)0xa1, header[3]);
        assertEquals(1, header[20]);
    }
}
