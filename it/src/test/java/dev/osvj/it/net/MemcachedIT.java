package dev.osvj.it.net;

import dev.osvj.it.OsvjProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * OSv's headline application against real clients over every network path: the kernel runs its
 * memcached-compatible server, and libmemcached's conformance tool {@code memccapable} (ASCII and binary
 * protocol tests) and load tool {@code memcslap} (Debian libmemcached-tools) run against it through the
 * embedded {@code user} gateway's host forward, through {@code passt} over the {@code stream} backend, and
 * from inside a network namespace the test creates, with Linux's own TCP as the peer over the {@code tap}
 * backend.
 */
class MemcachedIT {
    private static final Pattern FORWARD = Pattern.compile("hostfwd tcp:127\\.0\\.0\\.1:(\\d+)-:11211");
    private static final String INTERFACES = """
          net.interfaces = [
            { name = lo, backend = loopback, address = "127.0.0.1", netmask = "255.0.0.0", mtu = 65536 },
            %s
          ]
        """;
    private static final String APP = "app { name = memcached, args = [\"-m\", \"64\"] }\n";
    /** memcslap's summary line: "Time to get            400 keys by    2 threads:     0.843 seconds." */
    private static final Pattern SLAPPED = Pattern.compile("Time to \\w+ +400 keys by +2 threads");
    /** conf/tap.conf's guest address, and Linux's end of the TAP on its subnet. */
    private static final String KERNEL_IP = "10.0.3.2";
    private static final String LINUX_IP = "10.0.3.1";

    @TempDir
    Path dir;

    /** Run a client to completion (5 minutes at most); its output, after checking that it exited 0. */
    private static String client(final List<String> command) throws Exception {
        final List<String> bounded = new ArrayList<>(List.of("timeout", "300"));
        bounded.addAll(command);
        return NetIT.run(bounded.toArray(String[]::new));
    }

    private static List<String> in(final NetIT.Namespace ns, final String... command) {
        final List<String> all = new ArrayList<>();
        if (ns != null) {
            all.addAll(List.of("ip", "netns", "exec", ns.name()));
        }
        all.addAll(List.of(command));
        return all;
    }

    /** memccapable with {@code flags} ("-a", "-b" or none for both): every test passes. */
    private static void memccapable(final NetIT.Namespace ns, final String host, final String port,
        final String... flags) throws Exception {
        final List<String> command = in(ns, "memccapable", "-h", host, "-p", port, "-t", "30");
        command.addAll(List.of(flags));
        final String report = client(command);
        assertFalse(report.contains("[FAIL]"), report);
        assertTrue(report.contains("All tests passed"), report);
        if (flags.length == 0 || flags[0].equals("-a")) {
            assertTrue(report.contains("ascii get"), report);
        }
        if (flags.length == 0 || flags[0].equals("-b")) {
            assertTrue(report.contains("binary getkq"), report);
        }
    }

    /** memcslap's set, get and mget tests over both protocols, two threads each: no failure reported. */
    private static void memcslap(final NetIT.Namespace ns, final String host, final String port) throws Exception {
        for (final boolean binary : new boolean[] {false, true}) {
            for (final String test : List.of("set", "get", "mget")) {
                final List<String> command = in(ns, "memcslap", "-s", host + ":" + port, "--concurrency=2",
                    "--execute-number=200", "--test=" + test);
                if (binary) {
                    command.add("--binary");
                }
                final String report = client(command);
                assertFalse(report.contains("Fail"), () -> command + ": " + report);
                assertTrue(SLAPPED.matcher(report).find(), () -> command + ": " + report);
            }
        }
    }

    /** A configuration file that is the shipped {@code conf/NAME} with {@code override} on top. */
    private static Path shipped(final Path dir, final String name, final String override) throws java.io.IOException {
        final Path conf = dir.resolve("shipped-" + name);
        java.nio.file.Files.writeString(conf, "include file(\"" + OsvjProcess.HOME.resolve("conf").resolve(name)
            + "\")\n" + override + "\n");
        return conf;
    }

    private static void powerOff(final OsvjProcess osvj) throws Exception {
        osvj.type("poweroff");
        assertEquals(0, osvj.awaitExit(Duration.ofSeconds(60)), () -> "stderr: " + osvj.stderr());
    }

    @Test
    void shouldPassMemccapableAndMemcslapThroughTheUserGateway() throws Exception {
        NetIT.requireTool("memccapable", "libmemcached-tools");
        final Path conf = NetIT.conf(dir, APP + "devices = [ { type = net, backend = user } ]\n" + INTERFACES.formatted(
            "{ name = eth0, backend = virtio, dhcp = true, hostfwd = [\"tcp:127.0.0.1:0-:11211\"] }"));
        try (OsvjProcess osvj = NetIT.boot(conf)) {
            final String note = osvj.awaitOut(l -> l.startsWith("eth0: user 10.0.2.2/24"), NetIT.STEP);
            final Matcher m = FORWARD.matcher(note);
            assertTrue(m.find(), note);
            final String port = m.group(1);
            NetIT.consoleUntil(osvj, "ifconfig eth0", l -> l.contains("inet 10.0.2.15  netmask 255.255.255.0"));

            memccapable(null, "127.0.0.1", port, "-a");
            memccapable(null, "127.0.0.1", port, "-b");
            memcslap(null, "127.0.0.1", port);
            powerOff(osvj);
        }
    }

    /** The shipped conf/passt.conf, its device pointed at this test's own passt. */
    @Test
    void shouldPassMemccapableAndMemcslapThroughPasst() throws Exception {
        NetIT.requireTool("memccapable", "libmemcached-tools");
        NetIT.requireTool("passt", "passt");
        final int hostPort = NetIT.freePort();
        try (NetIT.Passt passt = NetIT.Passt.start(dir, hostPort, 11211);
             OsvjProcess osvj = NetIT.boot(shipped(dir, "passt.conf", "osvj.devices = [" + passt.device() + "]"))) {
            NetIT.consoleUntil(osvj, "ifconfig eth0", l -> l.contains("inet 10.0.2.15  netmask 255.255.255.0"));
            memccapable(null, "127.0.0.1", Integer.toString(hostPort));
            memcslap(null, "127.0.0.1", Integer.toString(hostPort));
            powerOff(osvj);
        }
    }

    /** The shipped conf/tap.conf (guest 10.0.3.2/24), its TAP opened in a namespace this test creates. */
    @Test
    void shouldPassMemccapableAndMemcslapFromLinuxTcpOverATapInANamespace() throws Exception {
        NetIT.requireTool("memccapable", "libmemcached-tools");
        NetIT.requireTool("ip", "iproute2");
        try (NetIT.Namespace ns = NetIT.Namespace.create("osvjmc" + ProcessHandle.current().pid());
             OsvjProcess osvj = NetIT.boot(shipped(dir, "tap.conf",
                 "osvj.devices = [{ type = net, backend = tap, ifname = osvjtap1, netns = \"" + ns.name() + "\" }]"))) {
            ns.upLinuxEnd("osvjtap1", LINUX_IP + "/24");
            memccapable(ns, KERNEL_IP, "11211");
            memcslap(ns, KERNEL_IP, "11211");
            NetIT.consoleUntil(osvj, "arp", l -> l.contains(LINUX_IP));
            powerOff(osvj);
        }
    }
}
