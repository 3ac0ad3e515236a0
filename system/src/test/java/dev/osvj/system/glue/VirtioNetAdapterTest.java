package dev.osvj.system.glue;

import dev.osvj.virtio.net.FrameSink;
import dev.osvj.virtio.net.FrameTransport;
import dev.osvj.virtio.net.NetDevicePort;
import dev.osvj.net.stack.NetInterface;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.StackSettings;
import dev.osvj.net.wire.Addresses;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The adapter between a virtio-net port and the stack: received frames reach the stack's receive path
 * as views of the very guest-memory bytes (no copy), transmitted frames land in the claimed guest
 * buffer, and a full transmit ring is a counted drop.
 */
class VirtioNetAdapterTest {
    /** A port over 64 KiB of native "guest memory": one transmit slot at 4096. */
    private static final class FakePort implements NetDevicePort {
        final MemorySegment guest = Arena.ofAuto().allocate(65_536, 64);
        FrameSink sink;
        boolean busy;
        final List<Integer> committed = new ArrayList<>();

        @Override
        public String name() {
            return "eth0";
        }

        @Override
        public byte[] mac() {
            return new byte[] {0x52, 0x54, 0, 0x12, 0x34, 0x56};
        }

        @Override
        public int mtu() {
            return 1500;
        }

        @Override
        public boolean linkUp() {
            return true;
        }

        @Override
        public void receiveInto(final FrameSink s) {
            sink = s;
        }

        @Override
        public int transmit(final MemorySegment buffer, final long offset, final int length) {
            throw new UnsupportedOperationException("the adapter claims and commits");
        }

        @Override
        public int tryClaim(final int maxLength) {
            return busy ? FrameTransport.BACK_PRESSURED : 0;
        }

        @Override
        public MemorySegment guestMemory() {
            return guest;
        }

        @Override
        public long claimedOffset(final int claim) {
            return 4096;
        }

        @Override
        public void commit(final int claim, final int length) {
            committed.add(length);
        }

        @Override
        public void abort(final int claim) {
        }
    }

    @Test
    void shouldHandReceivedFramesToTheStackAsViewsOfGuestMemory() {
        final FakePort port = new FakePort();
        final VirtioNetAdapter adapter = new VirtioNetAdapter("eth0", port, 9000);
        assertEquals(0x525400123456L, adapter.mac());
        assertEquals(1500, adapter.mtu(), "never above the device's MTU");
        final long[] seen = new long[3];
        final MutableDirectBuffer[] views = new MutableDirectBuffer[2];
        final int[] frames = {0};
        assertTrue(adapter.deliverInline((buffer, offset, length) -> {
            views[frames[0]++] = buffer;
            seen[0] = buffer.addressOffset() + offset;
            seen[1] = length;
            seen[2] = buffer.getByte(offset + 13) & 0xFF;
        }));
        port.guest.set(ValueLayout.JAVA_BYTE, 20_000 + 13, (byte)0x06);
        port.sink.onFrame(port.guest, 20_000, 60);
        assertEquals(port.guest.address() + 20_000, seen[0], "the stack reads the guest's bytes in place");
        assertEquals(60, seen[1]);
        assertEquals(6, seen[2]);
        port.sink.onFrame(port.guest, 30_000, 64);
        assertSame(views[0], views[1], "one reused view: no allocation per frame");
        assertEquals(0, adapter.poll((b, o, l) -> { }, 64), "push mode: nothing to poll");
    }

    @Test
    void shouldCopyTransmittedFramesIntoTheClaimedGuestBufferAndCountDrops() {
        final FakePort port = new FakePort();
        final VirtioNetAdapter adapter = new VirtioNetAdapter("eth0", port, 1500);
        final byte[] frame = new byte[100];
        for (int i = 0; i < frame.length; i++) {
            frame[i] = (byte)i;
        }
        assertTrue(adapter.transmit(new UnsafeBuffer(frame), 10, 90));
        assertEquals(List.of(90), port.committed);
        for (int i = 0; i < 90; i++) {
            assertEquals((byte)(i + 10), port.guest.get(ValueLayout.JAVA_BYTE, 4096 + i));
        }
        port.busy = true;
        assertFalse(adapter.transmit(new UnsafeBuffer(frame), 0, 60));
        assertEquals(1, adapter.transmitDropped());
        assertEquals(0, adapter.droppedFrames(), "a transmit failure is no receive drop");
    }

    @Test
    void shouldCountTransmitFailuresAsTheInterfacesTxDropsNotRxDrops() {
        final FakePort port = new FakePort();
        final VirtioNetAdapter adapter = new VirtioNetAdapter("eth0", port, 1500);
        final NetStack stack = new NetStack(StackSettings.defaults(), System::nanoTime);
        final NetInterface eth0 = stack.addInterface(adapter, false, Addresses.parseIpv4("10.0.2.15"),
            Addresses.parseIpv4("255.255.255.0"), Addresses.parseIpv4("10.0.2.2"));
        port.busy = true;
        final byte[] payload = new byte[16];
        // The datagram needs the neighbour's MAC first: the ARP request finds no transmit buffer.
        stack.sendDatagram(Addresses.parseIpv4("10.0.2.15"), 5000, Addresses.parseIpv4("10.0.2.7"), 7, new UnsafeBuffer(payload),
            0, payload.length);
        assertTrue(eth0.txDropped() >= 1, "tx_dropped " + eth0.txDropped());
        assertEquals(eth0.txDropped(), adapter.transmitDropped());
        assertEquals(0, eth0.rxDropped(), "rx_dropped counts nothing that was sent");
        // A received frame the adapter cannot hand on (a heap frame beyond its scratch) is a receive drop.
        port.sink.onFrame(MemorySegment.ofArray(new byte[70_000]), 0, 70_000);
        assertEquals(1, eth0.rxDropped());
    }
}
