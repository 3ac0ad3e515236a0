package dev.osvj.vfs.rofs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * OSv's rofs on-disk format ({@code fs/rofs/rofs.hh}, written by {@code scripts/gen-rofs-img.py}),
 * little-endian, in 512-byte blocks.
 *
 * <pre>
 * block 0                 superblock (64 bytes used, rest zero)
 * block 1 ..              file data, each file starting on a block boundary, padded to 512
 * block S ..              structure area (S = structure_info_first_block), contiguous, padded:
 *                           directory entries  (variable size, directory_entries_count of them)
 *                           symlinks           (variable size, symlinks_count of them)
 *                           inodes             (32 bytes each, inodes_count of them; inode n at n-1)
 *
 * Superblock                                     Inode (32 bytes)
 *  0 +---------------------------------------+   0 +---------------------------------+
 *    | magic u64 = 0xDEADBEAD                 |     | mode u64: 0x4000 dir, 0x8000    |
 *  8 | version u64 = 1                        |     |   file, 0xA000 symlink          |
 * 16 | block_size u64 = 512                   |   8 | inode_no u64 (1 = root)         |
 * 24 | structure_info_first_block u64         |  16 | data_offset u64                 |
 * 32 | structure_info_blocks_count u64        |  24 | count u64                       |
 * 40 | directory_entries_count u64            |  32 +---------------------------------+
 * 48 | symlinks_count u64                     |   file:    first block, size in bytes
 * 56 | inodes_count u64                       |   dir:     first entry index, entries
 * 64 +---------------------------------------+   symlink: symlink index, 1
 *
 * Directory entry: inode_no u64 | name_length u16 | name bytes (no NUL)
 * Symlink:         path_length u16 | path bytes (no NUL)
 * </pre>
 *
 * The entries of one directory are contiguous; they do not include {@code .} and {@code ..}. Only the
 * type bits of {@code mode} are meaningful: permissions are fixed (0555, symlinks 0777).
 */
public final class RofsFormat {
    public static final long MAGIC = 0xDEADBEADL;
    public static final long VERSION = 1;
    public static final int BLOCK_SIZE = 512;

    public static final int SB_MAGIC_OFFSET = 0;
    public static final int SB_VERSION_OFFSET = 8;
    public static final int SB_BLOCK_SIZE_OFFSET = 16;
    public static final int SB_STRUCTURE_FIRST_BLOCK_OFFSET = 24;
    public static final int SB_STRUCTURE_BLOCKS_OFFSET = 32;
    public static final int SB_DIRENTS_OFFSET = 40;
    public static final int SB_SYMLINKS_OFFSET = 48;
    public static final int SB_INODES_OFFSET = 56;
    public static final int SUPERBLOCK_LENGTH = 64;

    public static final int INODE_LENGTH = 32;
    public static final int INODE_MODE_OFFSET = 0;
    public static final int INODE_NO_OFFSET = 8;
    public static final int INODE_DATA_OFFSET = 16;
    public static final int INODE_COUNT_OFFSET = 24;

    public static final long MODE_DIR = 0x4000;
    public static final long MODE_FILE = 0x8000;
    public static final long MODE_SYMLINK = 0xA000;

    /** Root directory's inode number. */
    public static final long ROOT_INODE = 1;

    private RofsFormat() {
    }

    /** The superblock fields. */
    public record SuperBlock(long magic, long version, long blockSize, long structureFirstBlock, long structureBlocks,
                             long directoryEntries, long symlinks, long inodes) {
        /** Read from the first 64 bytes of {@code block0}. */
        public static SuperBlock read(final ByteBuffer block0) {
            final ByteBuffer b = block0.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            final int base = b.position();
            return new SuperBlock(b.getLong(base + SB_MAGIC_OFFSET), b.getLong(base + SB_VERSION_OFFSET),
                b.getLong(base + SB_BLOCK_SIZE_OFFSET), b.getLong(base + SB_STRUCTURE_FIRST_BLOCK_OFFSET),
                b.getLong(base + SB_STRUCTURE_BLOCKS_OFFSET), b.getLong(base + SB_DIRENTS_OFFSET),
                b.getLong(base + SB_SYMLINKS_OFFSET), b.getLong(base + SB_INODES_OFFSET));
        }

        /** Write into the first 64 bytes of {@code block0} (at its position). */
        public void write(final ByteBuffer block0) {
            final ByteBuffer b = block0.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            final int base = b.position();
            b.putLong(base + SB_MAGIC_OFFSET, magic);
            b.putLong(base + SB_VERSION_OFFSET, version);
            b.putLong(base + SB_BLOCK_SIZE_OFFSET, blockSize);
            b.putLong(base + SB_STRUCTURE_FIRST_BLOCK_OFFSET, structureFirstBlock);
            b.putLong(base + SB_STRUCTURE_BLOCKS_OFFSET, structureBlocks);
            b.putLong(base + SB_DIRENTS_OFFSET, directoryEntries);
            b.putLong(base + SB_SYMLINKS_OFFSET, symlinks);
            b.putLong(base + SB_INODES_OFFSET, inodes);
        }
    }
}
