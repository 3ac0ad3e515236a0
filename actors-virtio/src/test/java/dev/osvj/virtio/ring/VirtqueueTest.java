package dev.osvj.virtio.ring;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VirtqueueTest {
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment memory = arena.allocate(1 << 20, 4096);
    private final List<Integer> kicks = new ArrayList<>();
    private final List<Integer> interrupts = new ArrayList<>();

    @AfterEach
    void close() {
        arena.close();
    }

    private VirtqueueDriver driver(final int size, final boolean eventIdx, final boolean indirect) {
        memory.fill((byte)0xA5);
        final VirtqueueLayout.Placement p = VirtqueueLayout.contiguous(0, size);
        return new VirtqueueDriver(memory, 0, p, eventIdx, indirect ? 0x10000 : -1, 8, kicks::add);
    }

    private VirtqueueDevice device(final int size, final boolean eventIdx, final boolean indirect) {
        return new VirtqueueDevice(memory, 0, VirtqueueLayout.contiguous(0, size), eventIdx, indirect, interrupts::add);
    }

    private byte[] bytes(final long offset, final int length) {
        return memory.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE);
    }

    private static byte[] hex(final String s) {
        return HexFormat.of().parseHex(s.replace(" ", ""));
    }

    @Test
    void shouldPlacePartsWithSpecSizesAndAlignment() {
        final VirtqueueLayout.Placement p = VirtqueueLayout.contiguous(0x3000, 256);
        assertEquals(0x3000, p.descPa());
        assertEquals(0x3000 + 16 * 256, p.availPa());
        assertEquals(6 + 2 * 256, VirtqueueLayout.availBytes(256));
        assertEquals(6 + 8 * 256, VirtqueueLayout.usedBytes(256));
        // avail ends at 0x4000 + 518 = 0x4206; the used ring starts on the next 64-byte line.
        assertEquals(0x4240, p.usedPa());
        assertEquals(0, p.usedPa() % VirtqueueLayout.USED_ALIGN);
        assertEquals(4 + 2 * 256, VirtqueueLayout.usedEventOffset(256));
        assertEquals(4 + 8 * 256, VirtqueueLayout.availEventOffset(256));
        assertTrue(VirtqueueLayout.validSize(32768));
        assertFalse(VirtqueueLayout.validSize(65536));
        assertFalse(VirtqueueLayout.validSize(384));
    }

    @Test
    void shouldWriteDescriptorsAndAvailableRingAsLittleEndianSpecBytes() {
        final VirtqueueDriver d = driver(4, true, false);
        final ScatterList sg = new ScatterList(4).readable(0x1000, 0x10).writable(0x20000, 0x200);
        assertEquals(0, d.add(sg, 7));
        assertTrue(d.publish());
        // desc[0]: addr 0x1000, len 0x10, flags NEXT, next 1; desc[1]: addr 0x20000, len 0x200, flags WRITE, next 0
        assertArrayEquals(hex("0010000000000000 10000000 0100 0100"), bytes(0, 16));
        assertArrayEquals(hex("0000020000000000 00020000 0200 0000"), bytes(16, 16));
        // desc[2], desc[3] untouched (still the 0xA5 fill)
        assertArrayEquals(hex("a5a5a5a5a5a5a5a5 a5a5a5a5 a5a5 a5a5"), bytes(32, 16));
        // avail at 64: flags 0, idx 1, ring[0] = 0, ring[1..3] untouched, used_event = 0
        assertArrayEquals(hex("0000 0100 0000 a5a5 a5a5 a5a5 0000"), bytes(64, 14));
        // used at 128: flags 0, idx 0 (driver-initialised), ring untouched, avail_event 0 at 128 + 4 + 32
        assertArrayEquals(hex("0000 0000"), bytes(128, 4));
        assertArrayEquals(hex("0000"), bytes(164, 2));
        assertEquals(List.of(0), kicks);

        final VirtqueueDevice v = device(4, true, false);
        final DescriptorChain chain = v.newChain();
        assertEquals(0, v.pop(chain));
        assertEquals(2, chain.count());
        assertEquals(1, chain.readableCount());
        assertEquals(0x1000, chain.addr(0));
        assertEquals(0x20000, chain.addr(1));
        assertEquals(0x200, chain.len(1));
        v.pushUsed(0, 0x180);
        assertTrue(v.publishUsed());
        // used: flags 0, idx 1, ring[0] = {id 0, len 0x180}
        assertArrayEquals(hex("0000 0100 00000000 80010000"), bytes(128, 12));
        final long[] got = new long[2];
        assertEquals(1, d.poll((cookie, len) -> {
            got[0] = cookie;
            got[1] = len;
        }, 16));
        assertArrayEquals(new long[] {7, 0x180}, got);
        assertEquals(4, d.freeDescriptors());
        // The driver asks for an interrupt at the next used index (used_event = 1).
        assertArrayEquals(hex("0100"), bytes(64 + 4 + 8, 2));
    }

    @Test
    void shouldWrapSixteenBitIndicesAfterMoreThan65536Operations() {
        final VirtqueueDriver d = driver(8, true, false);
        final VirtqueueDevice v = device(8, true, false);
        final DescriptorChain chain = v.newChain();
        final ScatterList sg = new ScatterList(2);
        final long[] seen = new long[1];
        final int total = 70_000;
        for (int i = 0; i < total; i++) {
            memory.set(LE64, 0x40000 + (i & 7) * 8, i);
            sg.clear().readable(0x40000 + (i & 7) * 8, 8).writable(0x50000 + (i & 7) * 8, 8);
            assertTrue(d.add(sg, i) >= 0);
            d.publish();
            final int head = v.pop(chain);
            assertTrue(head >= 0, "pop " + i);
            final long value = memory.get(LE64, chain.addr(0));
            memory.set(LE64, chain.addr(1), value * 3);
            v.pushUsed(head, 8);
            v.publishUsed();
            assertEquals(1, d.poll((cookie, len) -> seen[0] = cookie, 4));
            assertEquals(i, seen[0]);
            assertEquals(3L * i, memory.get(LE64, 0x50000 + (i & 7) * 8));
        }
        assertEquals(total & 0xffff, memory.get(VirtqueueLayout.U16, VirtqueueLayout.contiguous(0, 8).availPa() + 2) & 0xffff);
        assertEquals(total & 0xffff, memory.get(VirtqueueLayout.U16, VirtqueueLayout.contiguous(0, 8).usedPa() + 2) & 0xffff);
        assertEquals(total, d.counters().get(QueueCounters.COMPLETIONS));
        assertEquals(8, d.freeDescriptors());
    }

    @Test
    void shouldSuppressKicksAndInterruptsWithEventIndex() {
        final VirtqueueDriver d = driver(8, true, false);
        final VirtqueueDevice v = device(8, true, false);
        final DescriptorChain chain = v.newChain();
        final ScatterList sg = new ScatterList(1);
        v.disableNotifications(); // the device polls: no kicks
        for (int i = 0; i < 3; i++) {
            d.add(sg.clear().writable(0x40000, 64), i);
            assertFalse(d.publish());
        }
        assertEquals(List.of(), kicks);
        assertEquals(3, d.counters().get(QueueCounters.SUPPRESSED));
        for (int i = 0; i < 3; i++) {
            v.pushUsed(v.pop(chain), 0);
        }
        assertFalse(v.enableNotifications(), "nothing more is available");
        // avail_event = 3: kick me when you publish the chain at index 3.
        assertArrayEquals(hex("0300"), bytes(VirtqueueLayout.contiguous(0, 8).usedPa() + 4 + 64, 2));
        d.add(sg.clear().writable(0x40000, 64), 3);
        d.add(sg.clear().writable(0x40000, 64), 4);
        assertTrue(d.publish(), "one kick for a batch of two");
        assertEquals(List.of(0), kicks);
        d.add(sg.clear().writable(0x40000, 64), 5);
        assertFalse(d.publish(), "the device has not caught up yet: still one kick");

        // Interrupts: the driver polls, so the device must not interrupt.
        d.disableInterrupts();
        assertTrue(v.publishUsed() == false && interrupts.isEmpty());
        assertEquals(3, d.poll((c, l) -> { }, 16));
        assertFalse(d.enableInterrupts());
        v.pushUsed(v.pop(chain), 0);
        assertTrue(v.publishUsed());
        assertEquals(List.of(0), interrupts);
        v.pushUsed(v.pop(chain), 0);
        assertFalse(v.publishUsed(), "driver has not consumed the first completion: no second interrupt");
        assertTrue(d.enableInterrupts(), "completions arrived meanwhile: poll again");
    }

    @Test
    void shouldSuppressWithFlagsWithoutEventIndex() {
        final VirtqueueDriver d = driver(4, false, false);
        final VirtqueueDevice v = device(4, false, false);
        final ScatterList sg = new ScatterList(1).writable(0x40000, 64);
        v.disableNotifications();
        assertArrayEquals(hex("0100"), bytes(VirtqueueLayout.contiguous(0, 4).usedPa(), 2)); // NO_NOTIFY
        d.add(sg, 1);
        assertFalse(d.publish());
        v.enableNotifications();
        d.add(sg, 2);
        assertTrue(d.publish());
        d.disableInterrupts();
        assertArrayEquals(hex("0100"), bytes(64, 2)); // NO_INTERRUPT
        final DescriptorChain chain = v.newChain();
        v.pushUsed(v.pop(chain), 0);
        assertFalse(v.publishUsed());
        assertTrue(d.enableInterrupts());
    }

    @Test
    void shouldPutMultiBufferChainsIntoIndirectTables() {
        final VirtqueueDriver d = driver(8, true, true);
        final VirtqueueDevice v = device(8, true, true);
        d.indirectPolicy(VirtqueueDriver.IndirectPolicy.ALWAYS);
        final ScatterList sg = new ScatterList(8).readable(0x40000, 16).readable(0x40100, 512).writable(0x40400, 1);
        final int head = d.add(sg, 99);
        d.publish();
        assertEquals(7, d.freeDescriptors(), "an indirect chain occupies one descriptor");
        // head descriptor: addr = table of head 0 at 0x10000, len 48, flags INDIRECT
        assertArrayEquals(hex("0000010000000000 30000000 0400 0000"), bytes(head * 16L, 16));
        // table entry 1: addr 0x40100, len 512, flags NEXT, next 2
        assertArrayEquals(hex("0001040000000000 00020000 0100 0200"), bytes(0x10000 + 16, 16));
        final DescriptorChain chain = v.newChain();
        assertEquals(head, v.pop(chain));
        assertEquals(3, chain.count());
        assertEquals(2, chain.readableCount());
        assertEquals(528, chain.readableBytes());
        assertEquals(1, chain.writableBytes());
        assertEquals(0x40400, chain.addr(2));

        // AUTO: direct while the ring has room, indirect once fewer than a quarter are free.
        d.indirectPolicy(VirtqueueDriver.IndirectPolicy.AUTO);
        final ScatterList two = new ScatterList(2).readable(0x40000, 8).writable(0x40100, 8);
        d.add(two, 1);
        assertEquals(5, d.freeDescriptors());
        d.add(two, 2);
        d.add(two, 3);
        assertEquals(1, d.freeDescriptors());
        assertTrue(d.add(two, 4) >= 0, "indirect when fewer are free than needed");
        assertEquals(0, d.freeDescriptors());
        assertEquals(VirtqueueDriver.NO_SPACE, d.add(two, 5));
        assertEquals(2, d.counters().get(QueueCounters.INDIRECT));
    }

    @Test
    void shouldCountAndReturnMalformedChainsWithoutThrowing() {
        final VirtqueueDriver d = driver(4, true, true);
        final VirtqueueDevice v = device(4, true, true);
        final DescriptorChain chain = v.newChain();
        final long availPa = VirtqueueLayout.contiguous(0, 4).availPa();
        // A loop: desc 0 -> 1 -> 0.
        writeDesc(0, 0x40000, 8, VirtqueueLayout.DESC_F_NEXT, 1);
        writeDesc(1, 0x40000, 8, VirtqueueLayout.DESC_F_NEXT, 0);
        // Buffer beyond guest memory.
        writeDesc(2, (1 << 20) - 4, 8, 0, 0);
        // Readable after writable.
        writeDesc(3, 0x40000, 8, VirtqueueLayout.DESC_F_WRITE | VirtqueueLayout.DESC_F_NEXT, 2);
        final int[] heads = {0, 2, 3, 7};
        for (int i = 0; i < heads.length; i++) {
            memory.set(VirtqueueLayout.U16, availPa + 4 + 2L * i, (short)heads[i]);
        }
        memory.set(VirtqueueLayout.U16, availPa + 2, (short)4);
        for (int i = 0; i < heads.length; i++) {
            assertEquals(VirtqueueDevice.MALFORMED, v.pop(chain), "chain " + i);
        }
        assertEquals(VirtqueueDevice.NONE, v.pop(chain));
        assertEquals(4, v.counters().get(QueueCounters.MALFORMED));
        // Indirect with NEXT, and a nested indirect table.
        writeDesc(0, 0x10000, 32, VirtqueueLayout.DESC_F_INDIRECT | VirtqueueLayout.DESC_F_NEXT, 1);
        writeDesc(1, 0x10000, 32, VirtqueueLayout.DESC_F_INDIRECT, 0);
        memory.set(LE64, 0x10000, 0x20000);
        memory.set(ValueLayout.JAVA_INT_UNALIGNED, 0x10008, 16);
        memory.set(VirtqueueLayout.U16, 0x1000c, (short)VirtqueueLayout.DESC_F_INDIRECT);
        memory.set(VirtqueueLayout.U16, availPa + 4, (short)0);
        memory.set(VirtqueueLayout.U16, availPa + 6, (short)1);
        memory.set(VirtqueueLayout.U16, availPa + 2, (short)6);
        assertEquals(VirtqueueDevice.MALFORMED, v.pop(chain));
        assertEquals(VirtqueueDevice.MALFORMED, v.pop(chain));
        assertEquals(6, v.counters().get(QueueCounters.MALFORMED));
        assertTrue(d != null);
    }

    private void writeDesc(final int i, final long addr, final int len, final int flags, final int next) {
        final long pa = i * 16L;
        memory.set(LE64, pa, addr);
        memory.set(ValueLayout.JAVA_INT_UNALIGNED, pa + 8, len);
        memory.set(VirtqueueLayout.U16, pa + 12, (short)flags);
        memory.set(VirtqueueLayout.U16, pa + 14, (short)next);
    }
}
