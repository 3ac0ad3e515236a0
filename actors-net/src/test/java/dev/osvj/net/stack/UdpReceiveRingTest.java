package dev.osvj.net.stack;

import dev.osvj.kernel.Errno;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The UDP receive ring when a datagram is dropped at the ring's end: Agrona's one-to-one ring writes the
 * end-of-ring padding record and advances its tail even when the claim then fails for want of room at the
 * start, so the ring can hold padding and no datagram ({@code size() > 0}). The socket must read that as
 * empty (the vswitch UDP burst threw "no record although size was positive" from {@code recvfrom}).
 *
 * <p>Layout of the 64 KiB ring in the test (record = 8-byte header + 4-byte source address + payload,
 * 8-aligned):
 * <pre>
 *   0      4096                                      61440   63488   65536
 *   | read | 14 x 4096-byte records (4084 payload)   | 2048  | pad   |
 *          ^ head                                                    ^ tail after the failed claim
 * </pre>
 * A 4096-byte record needs 4104 bytes (itself plus the next header): 2048 are left before the end and
 * 4096 before the head, so the claim fails after padding the last 2048 bytes.
 */
class UdpReceiveRingTest {
    private static final int SRC = 0x0A000001;
    private static final int BIG = 4096 - 8 - 4;
    private static final int SMALL = 2048 - 8 - 4;

    @Test
    void shouldReportEmptyWhenOnlyPaddingFromAFailedClaimIsLeft() {
        final NetStack stack = new NetStack(StackSettings.defaults(), System::nanoTime);
        final UdpSocket s = new UdpSocket(stack, 0);
        for (int i = 0; i < 15; i++) {
            assertTrue(enqueue(s, i, BIG), "datagram " + i);
        }
        assertTrue(enqueue(s, 15, SMALL));
        final byte[] got = new byte[8192];
        final SockAddr from = new SockAddr();
        assertEquals(BIG, s.recvfrom(got, 0, got.length, true, from));
        assertEquals(0, got[0]);
        assertFalse(enqueue(s, 16, BIG), "no room before the end nor before the head: dropped");
        assertEquals(1, s.drops());
        for (int i = 1; i < 16; i++) {
            final int n = s.recvfrom(got, 0, got.length, true, from);
            assertEquals(i == 15 ? SMALL : BIG, n, "datagram " + i);
            assertEquals((byte) i, got[0]);
            assertEquals((byte) i, got[n - 1]);
            assertEquals(SRC, from.ip);
            assertEquals(1000 + i, from.port);
        }
        // only the padding is left: empty, not readable, and no exception
        assertEquals(-Errno.EAGAIN.number(), s.recvfrom(got, 0, got.length, true, from));
        assertEquals(0, s.readiness() & Socket.POLLIN);
        assertEquals(0, s.queued());
        // the next datagram goes to the ring's start, behind the padding, and is read in one call
        assertTrue(enqueue(s, 17, SMALL));
        assertEquals(Socket.POLLIN, s.readiness() & Socket.POLLIN);
        assertEquals(SMALL, s.queued());
        assertEquals(SMALL, s.recvfrom(got, 0, got.length, true, from));
        assertEquals((byte) 17, got[SMALL - 1]);
        assertEquals(-Errno.EAGAIN.number(), s.recvfrom(got, 0, got.length, true, from));
    }

    @Test
    void shouldLeaveNoUncommittedRecordWhenCopyingThePayloadFails() {
        final NetStack stack = new NetStack(StackSettings.defaults(), System::nanoTime);
        final UdpSocket s = new UdpSocket(stack, 0);
        final UnsafeBuffer shortPayload = new UnsafeBuffer(new byte[16]);
        s.lock.lock();
        try {
            s.enqueueLocked(SRC, 1000, shortPayload, 0, 64);
            fail("copying 64 bytes from a 16-byte buffer must throw");
        } catch (final IndexOutOfBoundsException expected) {
            // the claimed record is aborted (a padding record the reader skips)
        } finally {
            s.lock.unlock();
        }
        assertTrue(enqueue(s, 1, SMALL));
        final byte[] got = new byte[8192];
        final SockAddr from = new SockAddr();
        // an uncommitted record at the head would make the reader spin: a generous guard, not a timing check
        assertEquals(SMALL, assertTimeoutPreemptively(Duration.ofSeconds(60),
            () -> s.recvfrom(got, 0, got.length, true, from)));
        assertEquals((byte) 1, got[0]);
        assertEquals(-Errno.EAGAIN.number(), s.recvfrom(got, 0, got.length, true, from));
    }

    private static boolean enqueue(final UdpSocket s, final int seq, final int len) {
        final byte[] d = new byte[len];
        java.util.Arrays.fill(d, (byte) seq);
        s.lock.lock();
        try {
            return s.enqueueLocked(SRC, 1000 + seq, new UnsafeBuffer(d), 0, len);
        } finally {
            s.lock.unlock();
        }
    }
}
