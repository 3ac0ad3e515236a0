package dev.osvj.net.user;

import dev.osvj.net.NetConfig;
import dev.osvj.net.dev.FrameHandler;
import dev.osvj.net.dev.NetDevice;
import dev.osvj.net.dhcp.DhcpClient;
import dev.osvj.net.dhcp.DhcpMessage;
import dev.osvj.net.stack.NetInterface;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.SockAddr;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.stack.StackDriver;
import dev.osvj.net.stack.StackSettings;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The user gateway with a guest osvj stack cabled to its guest end (no virtio here; the system
 * module's end-to-end test adds it): the guest gets its address from the gateway's DHCP server, and
 * a host client on 127.0.0.1 reaches an echo service in the guest through a hostfwd.
 */
class UserGatewayTest {
    private static final NetConfig.UserNetwork NET = new NetConfig.UserNetwork(0x0A000202, 0xFFFFFF00, 0x0A00020F,
        Duration.ofHours(1));
    private static final long MAC = 0x525400123456L;

    /** The guest NIC: a cable into the gateway's guest end. */
    private static final class Cable implements NetDevice {
        private final NetDevice end;

        Cable(final NetDevice end) {
            this.end = end;
        }

        @Override
        public String name() {
            return "eth0";
        }

        @Override
        public long mac() {
            return MAC;
        }

        @Override
        public int mtu() {
            return 1500;
        }

        @Override
        public boolean transmit(final DirectBuffer buffer, final int offset, final int length) {
            return end.transmit(buffer, offset, length);
        }

        @Override
        public int poll(final FrameHandler handler, final int budget) {
            return end.poll(handler, budget);
        }

        @Override
        public void setRxNotifier(final Runnable notifier) {
            end.setRxNotifier(notifier);
        }

        @Override
        public long droppedFrames() {
            return end.droppedFrames();
        }
    }

    private UserGateway gateway;
    private NetStack guest;
    private NetInterface eth0;
    private StackDriver driver;
    private Thread echo;

    @BeforeEach
    void setUp() throws Exception {
        gateway = UserGateway.start("eth0", NET, 1500, List.of(NetConfig.HostForward.parse("tcp:127.0.0.1:0-:7")));
        guest = new NetStack(StackSettings.defaults(), System::nanoTime);
        eth0 = guest.addInterface(new Cable(gateway.guestEnd()), false, 0, 0xFFFFFF00, 0);
        driver = new StackDriver(guest, "guest");
    }

    @AfterEach
    void tearDown() throws Exception {
        if (echo != null) {
            echo.interrupt();
        }
        driver.close();
        gateway.close();
    }

    /** Run a DHCP client over the guest's sockets until it is bound (the kernel's DhcpActor does the same). */
    private DhcpClient.Lease dhcp() throws Exception {
        final Sockets s = guest.sockets();
        final int fd = s.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0);
        assertEquals(0, s.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_BROADCAST, 1));
        assertEquals(0, s.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_BINDTODEVICE, eth0.index()));
        assertEquals(0, s.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 50));
        assertEquals(0, s.bind(fd, 0, DhcpMessage.CLIENT_PORT));
        final AtomicReference<DhcpClient.Lease> bound = new AtomicReference<>();
        final byte[] tx = new byte[600];
        final DhcpClient client = new DhcpClient(MAC, 7, new DhcpClient.Settings(1_000_000_000L, 4_000_000_000L, 30),
            new DhcpClient.Output() {
                @Override
                public void send(final int dstIp, final DirectBuffer b, final int off, final int len) {
                    b.getBytes(off, tx, 0, len);
                    s.sendto(fd, tx, 0, len, 0, dstIp, DhcpMessage.SERVER_PORT);
                }

                @Override
                public void bound(final DhcpClient.Lease lease) {
                    guest.configure(eth0, lease.address(), lease.netmask(), lease.gateway());
                    bound.set(lease);
                }

                @Override
                public void unbound(final String reason) {
                }

                @Override
                public void failed(final String reason) {
                }
            });
        client.start(guest.now());
        final byte[] rx = new byte[1500];
        final SockAddr from = new SockAddr();
        final long deadline = System.nanoTime() + 60_000_000_000L;
        while (bound.get() == null && System.nanoTime() < deadline) {
            client.poll(guest.now());
            final int n = s.recvfrom(fd, rx, 0, rx.length, 0, from);
            if (n > 0) {
                client.input(guest.now(), new UnsafeBuffer(rx), 0, n);
            }
        }
        s.close(fd);
        return bound.get();
    }

    private void startEcho() {
        final Sockets s = guest.sockets();
        final int listener = s.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, s.bind(listener, 0, 7));
        assertEquals(0, s.listen(listener, 16));
        echo = Thread.ofPlatform().daemon().name("guest-echo").start(() -> {
            while (true) {
                final int c = s.accept(listener, null);
                if (c < 0) {
                    return;
                }
                Thread.ofVirtual().start(() -> {
                    final byte[] b = new byte[8192];
                    int n;
                    while ((n = s.recv(c, b, 0, b.length, 0)) > 0) {
                        int w = 0;
                        while (w < n) {
                            w += s.send(c, b, w, n - w, 0);
                        }
                    }
                    s.close(c);
                });
            }
        });
    }

    @Test
    void shouldLeaseTheGuestItsAddressByDhcp() throws Exception {
        final DhcpClient.Lease lease = dhcp();
        assertNotNull(lease, "no lease from the gateway");
        assertEquals(0x0A00020F, lease.address());
        assertEquals(0xFFFFFF00, lease.netmask());
        assertEquals(0x0A000202, lease.gateway());
        assertEquals(3600, lease.seconds());
        assertEquals(0x0A00020F, eth0.address());
    }

    @Test
    void shouldCarryAHostConnectionThroughTheForwardToTheGuest() throws Exception {
        assertNotNull(dhcp());
        startEcho();
        final int port = gateway.forwards().get(0).bound().getPort();
        assertTrue(port > 0);
        assertTrue(gateway.describe().contains("hostfwd tcp:127.0.0.1:" + port + "-:7"), gateway.describe());
        echoThroughTheForward(port, 1, 1 << 20);
        try (Socket host = new Socket("127.0.0.1", port)) {
            host.setSoTimeout(60_000);
            host.getOutputStream().write("hello\n".getBytes(StandardCharsets.US_ASCII));
            final byte[] b = new byte[6];
            int got = 0;
            while (got < 6) {
                final int n = host.getInputStream().read(b, got, 6 - got);
                assertTrue(n > 0);
                got += n;
            }
            assertEquals("hello\n", new String(b, StandardCharsets.US_ASCII));
        }
        assertEquals(2, gateway.accepted());
    }

    @Test
    void shouldCarryAHostConnectionInTheOtherReceiveModeToo() throws Exception {
        // setUp started the default mode; the same carry through a gateway in the other one
        tearDown();
        echo = null;
        gateway = UserGateway.start("eth0", NET, 1500, List.of(NetConfig.HostForward.parse("tcp:127.0.0.1:0-:7")),
            !UserGateway.INLINE_RECEIVE);
        guest = new NetStack(StackSettings.defaults(), System::nanoTime);
        eth0 = guest.addInterface(new Cable(gateway.guestEnd()), false, 0, 0xFFFFFF00, 0);
        driver = new StackDriver(guest, "guest");
        shouldCarryAHostConnectionThroughTheForwardToTheGuest();
    }

    /** One counter of {@link UserGateway#counters()}. */
    private long counter(final String name) {
        final java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\b" + name + "=(\\d+)").matcher(gateway.counters());
        assertTrue(m.find(), name + " in " + gateway.counters());
        return Long.parseLong(m.group(1));
    }

    /** {@code size} random bytes echoed through the forward, compared by digest (bytes in order, nothing lost). */
    private void echoThroughTheForward(final int port, final int seed, final int size) throws Exception {
        final byte[] data = new byte[size];
        new Random(seed).nextBytes(data);
        try (Socket host = new Socket("127.0.0.1", port)) {
            host.setSoTimeout(60_000);
            final OutputStream out = host.getOutputStream();
            final Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    out.write(data);
                    host.shutdownOutput();
                } catch (final Exception e) {
                    throw new RuntimeException(e);
                }
            });
            final byte[] back = host.getInputStream().readAllBytes(); // ends when the guest closes after our FIN
            writer.join();
            assertEquals(data.length, back.length);
            assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(data),
                MessageDigest.getInstance("SHA-256").digest(back));
        }
    }

    @Test
    void shouldServeHostClientsFromAnIdleVcpusWaitAndFromTheLoopWhileNoVcpuWaits() throws Exception {
        tearDown();
        echo = null;
        gateway = UserGateway.start("eth0", NET.withVcpuSelect(true), 1500,
            List.of(NetConfig.HostForward.parse("tcp:127.0.0.1:0-:7")));
        guest = new NetStack(StackSettings.defaults(), System::nanoTime);
        eth0 = guest.addInterface(new Cable(gateway.guestEnd()), false, 0, 0xFFFFFF00, 0);
        driver = new StackDriver(guest, "guest");
        final dev.osvj.sched.HaltWait wait = gateway.haltWait();
        assertNotNull(wait, "vcpu-select on: the gateway offers its selector as the vCPUs' halt wait");
        // A vCPU stand-in: waits in the gateway's selector while idle; while "busy" (a CPU-bound guest
        // thread) it never does, and the gateway's loop thread must serve the host sockets itself.
        final java.util.concurrent.atomic.AtomicBoolean idle = new java.util.concurrent.atomic.AtomicBoolean(true);
        final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        final Thread vcpu = Thread.ofPlatform().daemon().name("fake-vcpu").start(() -> {
            while (!stop.get()) {
                if (idle.get()) {
                    wait.await(2_000_000L, () -> false);
                } else {
                    java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L); // busy: not waiting in the selector
                }
            }
        });
        try {
            assertNotNull(dhcp());
            startEcho();
            final int port = gateway.forwards().get(0).bound().getPort();
            echoThroughTheForward(port, 1, 256 << 10);
            assertTrue(counter("vcpu_selects") > 0, gateway.counters());

            idle.set(false); // a busy guest: the loop takes the selector over after a tick
            final long takeovers = counter("loop_takeovers");
            echoThroughTheForward(port, 2, 256 << 10);
            SchedLessWait.until("a takeover by the loop thread", () -> counter("loop_takeovers") > takeovers);

            final long selects = counter("vcpu_selects");
            idle.set(true); // idle again: the vCPU asks for the selector back and serves the clients itself
            SchedLessWait.until("the vCPU back in the selector", () -> counter("vcpu_selects") > selects + 10);
            echoThroughTheForward(port, 3, 256 << 10);
            assertEquals(3, gateway.accepted());
        } finally {
            stop.set(true);
            wait.wakeup();
            vcpu.join(60_000);
        }
    }

    /**
     * vcpu-select: a host request that arrives while the vCPU that selected last runs the guest (nobody
     * selects: the loop thread is parked until its tick) is taken in by that vCPU's next inline transmit
     * (here the guest's reply on another connection, sent on this thread), not left until the vCPU is idle
     * again or the loop's tick. The old gateway never read a host socket on an inline transmitter (only a
     * request the loop had read and handed off reached the guest from there, counted in loop_handoffs), so
     * every attempt failed; an attempt where the loop's tick took the request first is repeated.
     */
    @Test
    void shouldTakeInAHostRequestOnTheNextInlineTransmitWhileNobodySelects() throws Exception {
        tearDown();
        echo = null;
        gateway = UserGateway.start("eth0", NET.withVcpuSelect(true), 1500,
            List.of(NetConfig.HostForward.parse("tcp:127.0.0.1:0-:7")));
        guest = new NetStack(StackSettings.defaults(), System::nanoTime);
        eth0 = guest.addInterface(new Cable(gateway.guestEnd()), false, 0, 0xFFFFFF00, 0);
        driver = new StackDriver(guest, "guest");
        final dev.osvj.sched.HaltWait wait = gateway.haltWait();
        assertNotNull(wait);
        // the guest NIC's direct receive entry, watching which thread hands the guest a request (and leaving
        // every frame to the guest end's ring, as a NIC without a posted buffer does)
        final Thread self = Thread.currentThread();
        final AtomicReference<byte[]> marker = new AtomicReference<>(new byte[0]);
        final java.util.concurrent.atomic.AtomicBoolean onTransmit = new java.util.concurrent.atomic.AtomicBoolean();
        gateway.directReceive((buffer, offset, length, mayWait) -> {
            if (Thread.currentThread() == self && contains(buffer, offset, length, marker.get())) {
                onTransmit.set(true);
            }
            return UserGateway.GuestReceiver.NO_ROOM;
        });
        assertNotNull(dhcp());
        final java.util.concurrent.BlockingQueue<Integer> accepted = new java.util.concurrent.LinkedBlockingQueue<>();
        guestListener(accepted);
        final Sockets s = guest.sockets();
        final int port = gateway.forwards().get(0).bound().getPort();
        try (Socket a = new Socket("127.0.0.1", port); Socket b = new Socket("127.0.0.1", port)) {
            a.setSoTimeout(60_000);
            b.setSoTimeout(60_000);
            final int guestA = take(accepted);
            final int guestB = take(accepted);
            boolean taken = false;
            for (int attempt = 0; attempt < 50 && !taken; attempt++) {
                // This thread is the vCPU: a non-blocking round as the selector (it asks the selector back if
                // the loop took it over), then it "runs the guest" while a request arrives on b.
                assertTrue(wait.await(1_000_000L, () -> true));
                final long handoffs = counter("loop_handoffs");
                final byte[] request = ("request " + attempt + " on b\n").getBytes(StandardCharsets.US_ASCII);
                marker.set(request);
                onTransmit.set(false);
                b.getOutputStream().write(request); // in the gateway's host socket when write returns (loopback)
                // the guest's reply on connection a, transmitted inline on this thread
                assertEquals(1, s.send(guestA, new byte[] {'a'}, 0, 1, 0));
                taken = onTransmit.get() && counter("loop_handoffs") == handoffs;
                // whoever took it in, the request reaches the guest in order and the reply reaches a
                final byte[] in = new byte[request.length];
                int got = 0;
                while (got < in.length) {
                    final int n = s.recv(guestB, in, got, in.length - got, 0);
                    assertTrue(n > 0, "the guest's connection b ended");
                    got += n;
                }
                assertArrayEquals(request, in);
                assertEquals('a', a.getInputStream().read());
            }
            assertTrue(taken, "no request was taken in by an inline transmit: " + gateway.counters());
        }
    }

    private static boolean contains(final DirectBuffer buffer, final int offset, final int length, final byte[] what) {
        outer:
        for (int i = offset; i <= offset + length - what.length; i++) {
            for (int j = 0; j < what.length; j++) {
                if (buffer.getByte(i + j) != what[j]) {
                    continue outer;
                }
            }
            return what.length > 0;
        }
        return false;
    }

    /** A bounded condition wait (generous timeout; no timing assumption). */
    private static final class SchedLessWait {
        static void until(final String what, final java.util.function.BooleanSupplier condition) {
            final long deadline = System.nanoTime() + 60_000_000_000L;
            while (!condition.getAsBoolean()) {
                assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L);
            }
        }
    }

    /** Write {@code text} on {@code host} and read the same number of bytes back (the guest echoes). */
    private static String roundTrip(final Socket host, final String text) throws IOException {
        host.getOutputStream().write(text.getBytes(StandardCharsets.US_ASCII));
        return readBack(host, text.length());
    }

    private static String readBack(final Socket host, final int length) throws IOException {
        final byte[] b = new byte[length];
        int got = 0;
        while (got < length) {
            final int n = host.getInputStream().read(b, got, length - got);
            assertTrue(n > 0, "the host connection ended after " + got + " bytes");
            got += n;
        }
        return new String(b, StandardCharsets.US_ASCII);
    }

    @Test
    void shouldHandAHostRequestToTheStackLocksHolderInsteadOfWaitingForTheLock() throws Exception {
        assertNotNull(dhcp());
        startEcho();
        final int port = gateway.forwards().get(0).bound().getPort();
        final GuestLink link = gateway.link();
        try (Socket host = new Socket("127.0.0.1", port)) {
            host.setSoTimeout(60_000);
            assertEquals("first\n", roundTrip(host, "first\n"));
            // This thread stands in for an inline transmitter (the guest's reply on its way to the host)
            // that holds the stack lock when the next request arrives. The loop must read the request and
            // leave it to the holder, not park on the lock. It still waits for the stack's timers once they
            // are a whole tick late, so an attempt where that happened first is repeated (the old loop
            // waited every time, and never handed off).
            boolean handedOff = false;
            for (int attempt = 0; attempt < 10 && !handedOff; attempt++) {
                SchedLessWait.until("the stack lock", link::tryLockStack);
                final long waits = counter("stack_lock_waits");
                final long handoffs = counter("loop_handoffs");
                final String text = "request " + attempt + "\n";
                try {
                    host.getOutputStream().write(text.getBytes(StandardCharsets.US_ASCII));
                    SchedLessWait.until("the loop to read the request or wait for the lock",
                        () -> counter("loop_handoffs") > handoffs || counter("stack_lock_waits") > waits);
                    handedOff = counter("stack_lock_waits") == waits;
                    if (handedOff) {
                        assertEquals(handoffs + 1, counter("loop_handoffs"), gateway.counters());
                    }
                } finally {
                    link.releaseAsTransmitter(); // serves the request the loop left: it reaches the guest
                }
                assertEquals(text, readBack(host, text.length()), "echoed in order, nothing lost");
            }
            assertTrue(handedOff, "the loop never handed a request to the lock's holder: " + gateway.counters());
        }
    }

    @Test
    void shouldCloseTheHostConnectionWhenTheGuestRefuses() throws Exception {
        assertNotNull(dhcp()); // no echo service: the guest answers the SYN with a RST
        final int port = gateway.forwards().get(0).bound().getPort();
        try (Socket host = new Socket("127.0.0.1", port)) {
            host.setSoTimeout(60_000);
            assertEquals(-1, host.getInputStream().read());
        }
        assertEquals(1, gateway.refused());
    }

    /** A guest listener on port 7 whose accepted descriptors go to {@code accepted}, for the test to drive. */
    private int guestListener(final java.util.concurrent.BlockingQueue<Integer> accepted) {
        final Sockets s = guest.sockets();
        final int listener = s.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, s.bind(listener, 0, 7));
        assertEquals(0, s.listen(listener, 64));
        echo = Thread.ofPlatform().daemon().name("guest-acceptor").start(() -> {
            while (true) {
                final int c = s.accept(listener, null);
                if (c < 0) {
                    return;
                }
                accepted.add(c);
            }
        });
        return listener;
    }

    private static int take(final java.util.concurrent.BlockingQueue<Integer> q) throws InterruptedException {
        final Integer fd = q.poll(60, java.util.concurrent.TimeUnit.SECONDS);
        assertNotNull(fd, "no guest connection");
        return fd;
    }

    @Test
    void shouldCarryManyConnectionsOnOneEventLoopWithoutAThreadPerConnection() throws Exception {
        assertNotNull(dhcp());
        startEcho();
        final int port = gateway.forwards().get(0).bound().getPort();
        final List<Socket> clients = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < 24; i++) {
                final Socket c = new Socket("127.0.0.1", port);
                c.setSoTimeout(60_000);
                clients.add(c);
            }
            final long gatewayThreads = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("eth0-")).count();
            for (int i = 0; i < clients.size(); i++) {
                final byte[] msg = ("hello " + i + "\n").getBytes(StandardCharsets.US_ASCII);
                clients.get(i).getOutputStream().write(msg);
                assertArrayEquals(msg, clients.get(i).getInputStream().readNBytes(msg.length));
            }
            // the loop, DHCP and the outbound NAT's acceptor: nothing per connection or per direction
            assertTrue(gatewayThreads <= 3, "gateway threads with 24 connections: " + gatewayThreads);
            assertEquals(24, gateway.carried());
        } finally {
            for (final Socket c : clients) {
                c.close();
            }
        }
    }

    @Test
    void shouldCarryBothDirectionsIntactThroughSmallReceiveWindowsWithBackpressure() throws Exception {
        assertNotNull(dhcp());
        final java.util.concurrent.BlockingQueue<Integer> accepted = new java.util.concurrent.LinkedBlockingQueue<>();
        guestListener(accepted);
        final int port = gateway.forwards().get(0).bound().getPort();
        final Sockets s = guest.sockets();
        final byte[] up = new byte[6 << 20];
        final byte[] down = new byte[6 << 20];
        new Random(5).nextBytes(up);
        new Random(6).nextBytes(down);
        try (Socket host = new Socket()) {
            host.setReceiveBufferSize(4096); // small windows on both receivers: every writer keeps stalling
            host.connect(new java.net.InetSocketAddress("127.0.0.1", port));
            host.setSoTimeout(60_000);
            final int fd = take(accepted);
            assertEquals(0, s.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVBUF, 4096));
            final Thread hostWriter = Thread.ofPlatform().start(() -> {
                try {
                    host.getOutputStream().write(up);
                    host.shutdownOutput();
                } catch (final IOException e) {
                    throw new RuntimeException(e);
                }
            });
            final java.util.concurrent.atomic.AtomicLong progress = new java.util.concurrent.atomic.AtomicLong();
            final Thread guestWriter = Thread.ofPlatform().start(() -> {
                int off = 0;
                while (off < down.length) {
                    final int n = s.send(fd, down, off, Math.min(65536, down.length - off), 0);
                    assertTrue(n > 0, "guest send " + n);
                    off += n;
                    progress.addAndGet(n);
                }
                assertEquals(0, s.shutdown(fd, Sockets.SHUT_WR));
            });
            final java.io.ByteArrayOutputStream atGuest = new java.io.ByteArrayOutputStream();
            final Thread guestReader = Thread.ofPlatform().start(() -> {
                final byte[] b = new byte[65536];
                int n;
                while ((n = s.recv(fd, b, 0, b.length, 0)) > 0) {
                    atGuest.write(b, 0, n);
                    progress.addAndGet(n);
                }
                assertEquals(0, n, "guest recv ended with " + n);
            });
            final Thread watchdog = stallWatchdog(progress);
            final java.io.ByteArrayOutputStream hostIn = new java.io.ByteArrayOutputStream();
            final InputStream in = host.getInputStream();
            final byte[] hb = new byte[65536];
            int hn;
            while ((hn = in.read(hb)) >= 0) {
                hostIn.write(hb, 0, hn);
                progress.addAndGet(hn);
            }
            watchdog.interrupt();
            final byte[] atHost = hostIn.toByteArray();
            guestReader.join();
            hostWriter.join();
            guestWriter.join();
            assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(down),
                MessageDigest.getInstance("SHA-256").digest(atHost));
            assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(up),
                MessageDigest.getInstance("SHA-256").digest(atGuest.toByteArray()));
            s.close(fd);
        }
    }

    /**
     * A watchdog for a bulk transfer: when {@code progress} (bytes moved by every party) stands still
     * for 20 s, print both stacks' connections and the gateway loop's relays, so a stalled run shows
     * which side's TCP or relay state stopped. Interrupt it when the transfer is done.
     */
    private Thread stallWatchdog(final java.util.concurrent.atomic.AtomicLong progress) {
        return Thread.ofPlatform().daemon().name("stall-watchdog").start(() -> {
            long last = -1;
            long since = System.nanoTime();
            try {
                while (true) {
                    Thread.sleep(1000); // a sampling period, not a wait for a condition
                    final long p = progress.get();
                    if (p != last) {
                        last = p;
                        since = System.nanoTime();
                    } else if (System.nanoTime() - since > 20_000_000_000L) {
                        System.err.println("STALL after " + p + " bytes:\n  gateway " + String.join("\n  ", gateway.debugState())
                            + "\n  guest " + String.join("\n  ", guest.connectionDebug())
                            + "\n  link " + gateway.counters() + "\n  gateway counters " + nonZero(gateway.stack())
                            + "\n  guest counters " + nonZero(guest));
                        since = System.nanoTime();
                    }
                }
            } catch (final InterruptedException e) {
                // done
            }
        });
    }

    private static String nonZero(final NetStack stack) {
        final StringBuilder b = new StringBuilder();
        stack.counters().snapshot().forEach((k, v) -> {
            if (v != 0) {
                b.append(k).append('=').append(v).append(' ');
            }
        });
        return b.toString();
    }

    @Test
    void shouldPropagateResetsBothWays() throws Exception {
        assertNotNull(dhcp());
        final java.util.concurrent.BlockingQueue<Integer> accepted = new java.util.concurrent.LinkedBlockingQueue<>();
        guestListener(accepted);
        final int port = gateway.forwards().get(0).bound().getPort();
        final Sockets s = guest.sockets();
        // host client resets: the guest's blocked recv sees ECONNRESET, not an orderly EOF
        final Socket first = new Socket("127.0.0.1", port);
        final int fd1 = take(accepted);
        assertEquals(0, s.setsockopt(fd1, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 60_000));
        first.setSoLinger(true, 0);
        first.close();
        final byte[] b = new byte[16];
        assertEquals(-dev.osvj.kernel.Errno.ECONNRESET.number(), s.recv(fd1, b, 0, b.length, 0));
        s.close(fd1);
        // the guest resets: the host client's read fails with a reset, not an orderly EOF
        try (Socket second = new Socket("127.0.0.1", port)) {
            second.setSoTimeout(60_000);
            final int fd2 = take(accepted);
            assertEquals(0, s.setsockopt(fd2, Sockets.SOL_SOCKET, Sockets.SO_LINGER, 0));
            assertEquals(0, s.close(fd2));
            final java.net.SocketException reset = org.junit.jupiter.api.Assertions.assertThrows(
                java.net.SocketException.class, () -> second.getInputStream().read());
            assertTrue(reset.getMessage().toLowerCase(java.util.Locale.ROOT).contains("reset"), reset.getMessage());
        }
    }

    /** A host echo server on 127.0.0.1 (JDK sockets): returns its port; it serves until the test ends. */
    private int hostEcho(final ServerSocket server) {
        Thread.ofVirtual().name("host-echo").start(() -> {
            while (!server.isClosed()) {
                try {
                    final Socket c = server.accept();
                    Thread.ofVirtual().start(() -> {
                        try (c) {
                            c.getInputStream().transferTo(c.getOutputStream());
                        } catch (final IOException e) {
                            // the test ended
                        }
                    });
                } catch (final IOException e) {
                    return;
                }
            }
        });
        return server.getLocalPort();
    }

    /** Send {@code data} on a guest TCP socket, half-close, and return everything read until EOF. */
    private byte[] guestRoundTrip(final int fd, final byte[] data) throws Exception {
        final Sockets s = guest.sockets();
        final Thread writer = Thread.ofVirtual().start(() -> {
            int off = 0;
            while (off < data.length) {
                final int n = s.send(fd, data, off, Math.min(65536, data.length - off), 0);
                assertTrue(n > 0, "send " + n);
                off += n;
            }
            assertEquals(0, s.shutdown(fd, Sockets.SHUT_WR));
        });
        final java.io.ByteArrayOutputStream back = new java.io.ByteArrayOutputStream();
        final byte[] b = new byte[65536];
        int n;
        while ((n = s.recv(fd, b, 0, b.length, 0)) > 0) {
            back.write(b, 0, n);
        }
        assertEquals(0, n, "recv ended with " + n);
        writer.join();
        return back.toByteArray();
    }

    @Test
    void shouldCarryAGuestConnectionToTheGatewayAddressToAHostListener() throws Exception {
        assertNotNull(dhcp());
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            final int port = hostEcho(server);
            final Sockets s = guest.sockets();
            final int fd = s.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            assertEquals(0, s.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 60_000));
            assertEquals(0, s.connect(fd, NET.gateway(), port));
            final SockAddr peer = new SockAddr();
            assertEquals(0, s.getpeername(fd, peer));
            assertEquals(NET.gateway(), peer.ip);
            assertEquals(port, peer.port);
            final byte[] data = new byte[4 << 20];
            new Random(3).nextBytes(data);
            final byte[] back = guestRoundTrip(fd, data);
            assertEquals(data.length, back.length);
            assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(data),
                MessageDigest.getInstance("SHA-256").digest(back));
            assertEquals(0, s.close(fd));
            assertEquals(1, gateway.stack().counters().get(dev.osvj.net.stack.NetCounters.Counter.TCP_OUTBOUND_ADMITTED));
        }
    }

    @Test
    void shouldReachTheHostLoopbackFromAGuestWithoutALoopbackInterface() throws Exception {
        assertNotNull(dhcp()); // the guest stack has eth0 only: 127.0.0.1 goes to its default gateway
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            final int port = hostEcho(server);
            final Sockets s = guest.sockets();
            final int fd = s.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            assertEquals(0, s.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 60_000));
            assertEquals(0, s.connect(fd, 0x7F000001, port));
            final byte[] hello = "hello, host\n".getBytes(StandardCharsets.US_ASCII);
            assertArrayEquals(hello, guestRoundTrip(fd, hello));
            assertEquals(0, s.close(fd));
        }
    }

    @Test
    void shouldRefuseAGuestConnectionWhenTheHostRefuses() throws Exception {
        assertNotNull(dhcp());
        final int closedPort;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = probe.getLocalPort(); // nothing listens there once it is closed
        }
        final Sockets s = guest.sockets();
        final int fd = s.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(-dev.osvj.kernel.Errno.ECONNREFUSED.number(), s.connect(fd, NET.gateway(), closedPort));
        s.close(fd);
        // outside the policy ("host": only the gateway and 127/8): refused without a host connect
        final int other = s.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(-dev.osvj.kernel.Errno.ECONNREFUSED.number(), s.connect(other, 0xC0000201, 80)); // 192.0.2.1
        s.close(other);
        assertEquals(2, gateway.stack().counters().get(dev.osvj.net.stack.NetCounters.Counter.TCP_OUTBOUND_REFUSED));
    }

    @Test
    void shouldRelayGuestUdpToTheHostAndTheRepliesBack() throws Exception {
        assertNotNull(dhcp());
        try (DatagramSocket host = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            host.setSoTimeout(60_000);
            final Thread echoUdp = Thread.ofVirtual().start(() -> {
                final byte[] b = new byte[2048];
                final DatagramPacket p = new DatagramPacket(b, b.length);
                try {
                    for (int i = 0; i < 2; i++) {
                        p.setLength(b.length);
                        host.receive(p);
                        final byte[] reply = ("re: " + new String(b, 0, p.getLength(), StandardCharsets.US_ASCII))
                            .getBytes(StandardCharsets.US_ASCII);
                        host.send(new DatagramPacket(reply, reply.length, p.getSocketAddress()));
                    }
                } catch (final IOException e) {
                    throw new RuntimeException(e);
                }
            });
            final Sockets s = guest.sockets();
            final int fd = s.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0);
            assertEquals(0, s.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 60_000));
            final SockAddr from = new SockAddr();
            final byte[] rx = new byte[2048];
            for (final String msg : new String[] {"ping 1", "ping 2"}) {
                final byte[] b = msg.getBytes(StandardCharsets.US_ASCII);
                assertEquals(b.length, s.sendto(fd, b, 0, b.length, 0, NET.gateway(), host.getLocalPort()));
                final int n = s.recvfrom(fd, rx, 0, rx.length, 0, from);
                assertEquals("re: " + msg, new String(rx, 0, Math.max(0, n), StandardCharsets.US_ASCII));
                assertEquals(NET.gateway(), from.ip);
                assertEquals(host.getLocalPort(), from.port);
            }
            echoUdp.join();
            s.close(fd);
        }
    }
}
