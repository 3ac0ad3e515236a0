package dev.osvj.virtio.net;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-net over the {@code stream} transport against a real passt (Debian package {@code passt}):
 * the guest's DHCP DISCOVER gets passt's OFFER, and an ARP request for the gateway gets passt's
 * reply, all through the virtio driver, the virtqueues and the device.
 */
class PasstTest {
    @TempDir
    Path dir;

    @Test
    void shouldGetADhcpOfferAndAnArpReplyFromPasst() throws Exception {
        // passt drops root privileges (to nobody): its socket directory must be writable for it.
        final Path shared = java.nio.file.Files.createDirectory(dir.resolve("shared"));
        java.nio.file.Files.setPosixFilePermissions(shared, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        java.nio.file.Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        final Path sock = shared.resolve("passt.sock");
        final Process passt = new ProcessBuilder("passt", "-f", "-e", "-1", "-s", sock.toString(),
            "-a", "10.0.2.15", "-n", "24", "-g", "10.0.2.2").redirectErrorStream(true).start();
        try {
            // passt logs "UNIX domain socket bound" after bind() and this line after listen() (strace):
            // a connect right after the first can be refused.
            awaitLine(passt, LISTENING_LINE);
            try (NetHarness h = new NetHarness(StreamTransport.connect("unix:" + sock), 1500, 64)) {
                final byte[] mac = h.driver.mac();
                assertEquals(0, h.send(Frames.ipv4(Frames.BROADCAST, mac, Frames.ip(0, 0, 0, 0), Frames.ip(255, 255, 255, 255),
                    17, Frames.dhcpDiscover(mac))));
                final byte[] offer = awaitFrame(h, f -> Frames.etherType(f) == Frames.ETH_IPV4 && f[23] == 17
                    && Frames.u16(f, 34) == 67 && Frames.u16(f, 36) == 68);
                // BOOTP reply (op 2), our xid, yiaddr 10.0.2.15, DHCP message type OFFER (53 = 2)
                final int bootp = 42;
                assertEquals(2, offer[bootp]);
                assertEquals(0x0badcafe, java.nio.ByteBuffer.wrap(offer, bootp + 4, 4).getInt());
                assertEquals("10.0.2.15", (offer[bootp + 16] & 0xff) + "." + (offer[bootp + 17] & 0xff) + "."
                    + (offer[bootp + 18] & 0xff) + "." + (offer[bootp + 19] & 0xff));
                assertTrue(hasOption(offer, bootp + 240, 53, 2), "DHCP OFFER");

                assertEquals(0, h.send(Frames.arp(1, mac, Frames.ip(10, 0, 2, 15), null, Frames.ip(10, 0, 2, 2))));
                final byte[] reply = awaitFrame(h, f -> Frames.etherType(f) == Frames.ETH_ARP && Frames.u16(f, 20) == 2);
                assertEquals(10, reply[28]);
                assertEquals(2, reply[31], "the gateway 10.0.2.2 answers");
            }
        } finally {
            passt.destroy();
            passt.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** What passt prints once its UNIX socket listens (the line before it, "... socket bound", follows bind()). */
    static final String LISTENING_LINE = "You can now start qemu";

    static boolean hasOption(final byte[] f, final int start, final int code, final int value) {
        int i = start;
        while (i + 1 < f.length && (f[i] & 0xff) != 255) {
            final int c = f[i] & 0xff;
            if (c == 0) {
                i++;
                continue;
            }
            final int len = f[i + 1] & 0xff;
            if (c == code) {
                return len >= 1 && (f[i + 2] & 0xff) == value;
            }
            i += 2 + len;
        }
        return false;
    }

    static byte[] awaitFrame(final NetHarness h, final java.util.function.Predicate<byte[]> match) throws Exception {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            final byte[] f = h.received.poll(1, TimeUnit.SECONDS);
            if (f != null && match.test(f)) {
                return f;
            }
        }
        throw new AssertionError("expected frame not received");
    }

    /** Wait (30 s at most) for a line containing {@code text} on the process's output. */
    static void awaitLine(final Process p, final String text) throws Exception {
        final CompletableFuture<Boolean> seen = new CompletableFuture<>();
        final Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.contains(text)) {
                        seen.complete(true);
                    }
                }
            } catch (final Exception e) {
                seen.completeExceptionally(e);
            }
            seen.complete(false);
        }, "passt-output");
        reader.setDaemon(true);
        reader.start();
        assertNotNull(seen.get(30, TimeUnit.SECONDS) ? Boolean.TRUE : null, "passt did not start: no \"" + text + "\"");
    }
}
