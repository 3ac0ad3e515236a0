package dev.osvj.net.tcp;

import dev.osvj.net.wire.TcpRepr;
import dev.osvj.net.wire.TcpSegment;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * smoltcp-style harness: one connection under test, segments fed at explicit virtual times, every
 * emitted segment recorded in tcpdump-like text so tests assert the exact reply.
 */
final class TcpHarness implements TcpConnection.Output, TcpConnection.Events {
    static final int LOCAL_IP = 0x0A000001;
    static final int REMOTE_IP = 0x0A000002;
    static final int LOCAL_PORT = 80;
    static final int REMOTE_PORT = 49500;
    static final long MS = TcpConfig.MS;

    final List<String> sent = new ArrayList<>();
    final List<byte[]> payloads = new ArrayList<>();
    final List<String> events = new ArrayList<>();
    boolean refuseEstablish;
    TcpConnection conn;

    /** Defaults without timestamps and SACK, 64 KiB - 1 receive buffer (window shift 0), no delayed ACK. */
    static TcpConfig plain() {
        return TcpConfig.defaults().withOptions(false, false).withBuffers(32 * 1024, 65535).withDelayedAck(0);
    }

    @Override
    public void transmit(final TcpConnection c, final TcpRepr s) {
        sent.add(s.toString());
        final byte[] p = new byte[s.payloadLength];
        if (s.payloadLength > 0) {
            s.payload.getBytes(s.payloadOffset, p);
        }
        payloads.add(p);
    }

    @Override
    public boolean onEstablished(final TcpConnection c) {
        events.add("established");
        return !refuseEstablish;
    }

    @Override
    public void onStateChange(final TcpConnection c, final TcpState from, final TcpState to) {
        events.add(from + "->" + to);
    }

    TcpConnection connect(final TcpConfig cfg, final int iss, final long now) {
        conn = TcpConnection.connect(cfg, this, this, LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT, iss, 1460, now);
        return conn;
    }

    TcpConnection accept(final TcpConfig cfg, final int iss, final TcpRepr syn, final long now) {
        conn = TcpConnection.accept(cfg, this, this, LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT, iss, 1460, syn, now);
        return conn;
    }

    /** A segment from the peer. */
    static TcpRepr seg(final int flags, final int seq, final int ack, final int window) {
        final TcpRepr r = new TcpRepr();
        r.srcPort = REMOTE_PORT;
        r.dstPort = LOCAL_PORT;
        r.flags = flags;
        r.seq = seq;
        r.ack = ack;
        r.window = window;
        return r;
    }

    static TcpRepr data(final int seq, final int ack, final int window, final byte[] payload) {
        final TcpRepr r = seg(TcpSegment.ACK, seq, ack, window);
        r.payload = new UnsafeBuffer(payload);
        r.payloadOffset = 0;
        r.payloadLength = payload.length;
        return r;
    }

    static byte[] bytes(final int n, final int seed) {
        final byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte)(i * 7 + seed);
        }
        return b;
    }

    void in(final long now, final TcpRepr r) {
        conn.input(now, r);
    }

    int write(final byte[] data, final long now) {
        return conn.send(new UnsafeBuffer(data), 0, data.length, now);
    }

    byte[] read(final int max, final long now) {
        final byte[] b = new byte[max];
        final int n = conn.recv(new UnsafeBuffer(b), 0, max, now, false);
        return java.util.Arrays.copyOf(b, Math.max(0, n));
    }

    /** Assert exactly these segments were sent since the last check, then forget them. */
    void expect(final String... segments) {
        assertEquals(List.of(segments), List.copyOf(sent));
        sent.clear();
        payloads.clear();
    }

    void expectNothing() {
        expect();
    }

    void clear() {
        sent.clear();
        payloads.clear();
    }
}
