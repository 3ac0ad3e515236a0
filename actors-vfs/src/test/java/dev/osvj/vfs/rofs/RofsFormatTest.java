package dev.osvj.vfs.rofs;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The superblock layout on literal bytes (little-endian, OSv's field order). */
class RofsFormatTest {
    private static final byte[] SUPERBLOCK = {
        (byte)0xAD, (byte)0xBE, (byte)0xAD, (byte)0xDE, 0, 0, 0, 0,   // magic 0xDEADBEAD
        1, 0, 0, 0, 0, 0, 0, 0,                                       // version 1
        0, 2, 0, 0, 0, 0, 0, 0,                                       // block_size 512
        5, 0, 0, 0, 0, 0, 0, 0,                                       // structure_info_first_block
        2, 0, 0, 0, 0, 0, 0, 0,                                       // structure_info_blocks_count
        7, 0, 0, 0, 0, 0, 0, 0,                                       // directory_entries_count
        1, 0, 0, 0, 0, 0, 0, 0,                                       // symlinks_count
        8, 0, 0, 0, 0, 0, 0, 0,                                       // inodes_count
    };

    @Test
    void shouldReadTheSuperblockFromLiteralBytes() {
        final RofsFormat.SuperBlock sb = RofsFormat.SuperBlock.read(ByteBuffer.wrap(SUPERBLOCK));
        assertEquals(new RofsFormat.SuperBlock(0xDEADBEADL, 1, 512, 5, 2, 7, 1, 8), sb);
    }

    @Test
    void shouldWriteExactlyTheSuperblockBytesAndNothingElse() {
        final byte[] block = new byte[512];
        Arrays.fill(block, (byte)0xA5);
        new RofsFormat.SuperBlock(0xDEADBEADL, 1, 512, 5, 2, 7, 1, 8).write(ByteBuffer.wrap(block));
        assertArrayEquals(SUPERBLOCK, Arrays.copyOf(block, 64));
        for (int i = 64; i < 512; i++) {
            assertEquals((byte)0xA5, block[i], "byte " + i + " untouched");
        }
    }
}
