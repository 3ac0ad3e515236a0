package dev.osvj.virtio.fs;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The FUSE headers and dirent sizes on literal bytes (little-endian, as linux/fuse.h lays them out). */
class FuseWireTest {
    @Test
    void shouldLayOutTheInHeaderAsLinuxDoes() {
        final byte[] b = new byte[Fuse.IN_HEADER];
        Fuse.putInHeader(MemorySegment.ofArray(b), 0, 0x30, Fuse.LOOKUP, 0x0102030405060708L, 1);
        assertArrayEquals(new byte[] {
            0x30, 0, 0, 0, /* len */ 1, 0, 0, 0, /* opcode LOOKUP */
            8, 7, 6, 5, 4, 3, 2, 1, /* unique */
            1, 0, 0, 0, 0, 0, 0, 0, /* nodeid */
            0, 0, 0, 0, 0, 0, 0, 0, /* uid gid */
            0, 0, 0, 0, 0, 0, 0, 0 /* pid, total_extlen, padding */}, b);
    }

    @Test
    void shouldReadAnOutHeaderWithANegativeErrno() {
        final byte[] b = {0x10, 0, 0, 0, (byte)0xfe, (byte)0xff, (byte)0xff, (byte)0xff, 0x2a, 0, 0, 0, 0, 0, 0, 0};
        final MemorySegment m = MemorySegment.ofArray(b);
        assertEquals(16, Fuse.u32(m, 0));
        assertEquals(-2, Fuse.u32(m, 4)); // -ENOENT
        assertEquals(42, Fuse.u64(m, 8));
        final byte[] w = new byte[16];
        Fuse.putOutHeader(MemorySegment.ofArray(w), 0, 16, -2, 42);
        assertArrayEquals(b, w);
    }

    @Test
    void shouldPadDirentsToEightBytes() {
        assertEquals(32, Fuse.direntSize(1));
        assertEquals(32, Fuse.direntSize(8));
        assertEquals(40, Fuse.direntSize(9));
    }

    @Test
    void shouldClassifyWritingOpcodes() {
        assertTrue(Fuse.writes(Fuse.WRITE));
        assertTrue(Fuse.writes(Fuse.CREATE));
        assertTrue(Fuse.writes(Fuse.MKDIR));
        assertTrue(Fuse.writes(16));
        assertFalse(Fuse.writes(Fuse.READ));
        assertFalse(Fuse.writes(Fuse.LOOKUP));
        assertEquals("READDIR", Fuse.opcodeName(28));
        assertEquals(26, Fuse.INIT);
        assertEquals(29, Fuse.RELEASEDIR);
    }
}
