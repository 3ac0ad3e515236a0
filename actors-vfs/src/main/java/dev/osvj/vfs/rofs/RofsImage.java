package dev.osvj.vfs.rofs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The parsed and validated structure area of a rofs image: inodes, directory entries, symlinks.
 * Parsing is a checked wrap of untrusted bytes (STYLE habit 3): every count, index and block range is
 * checked against the image once, here, and a bad image is EINVAL with the reason; after that no
 * accessor can go out of bounds.
 */
final class RofsImage {
    final RofsFormat.SuperBlock sb;
    final long[] inodeMode;
    final long[] inodeData;
    final long[] inodeCount;
    final long[] direntInode;
    final String[] direntName;
    final String[] symlinks;
    /** Directories: number of subdirectories (for link counts). */
    final int[] subdirs;

    private RofsImage(final RofsFormat.SuperBlock sb, final int inodes, final int dirents, final int links) {
        this.sb = sb;
        this.inodeMode = new long[inodes];
        this.inodeData = new long[inodes];
        this.inodeCount = new long[inodes];
        this.direntInode = new long[dirents];
        this.direntName = new String[dirents];
        this.symlinks = new String[links];
        this.subdirs = new int[inodes];
    }

    private static ErrnoException bad(final String why) {
        return new ErrnoException(Errno.EINVAL, "rofs: " + why);
    }

    /**
     * @param sb          the superblock, already read from block 0
     * @param structure   the structure area ({@code structureBlocks} blocks)
     * @param deviceBlocks the device size in 512-byte blocks
     */
    static RofsImage parse(final RofsFormat.SuperBlock sb, final ByteBuffer structure, final long deviceBlocks)
        throws ErrnoException {
        if (sb.directoryEntries() < 0 || sb.directoryEntries() > Integer.MAX_VALUE
            || sb.symlinks() < 0 || sb.symlinks() > Integer.MAX_VALUE
            || sb.inodes() < 1 || sb.inodes() > Integer.MAX_VALUE) {
            throw bad("counts out of range");
        }
        final RofsImage img = new RofsImage(sb, (int)sb.inodes(), (int)sb.directoryEntries(), (int)sb.symlinks());
        final ByteBuffer b = structure.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        try {
            for (int i = 0; i < img.direntInode.length; i++) {
                img.direntInode[i] = b.getLong();
                final int len = Short.toUnsignedInt(b.getShort());
                final byte[] name = new byte[len];
                b.get(name);
                img.direntName[i] = new String(name, StandardCharsets.UTF_8);
                if (len == 0 || img.direntName[i].indexOf('/') >= 0 || ".".equals(img.direntName[i])
                    || "..".equals(img.direntName[i])) {
                    throw bad("bad name in directory entry " + i);
                }
                if (img.direntInode[i] < 1 || img.direntInode[i] > sb.inodes()) {
                    throw bad("directory entry " + i + " names inode " + img.direntInode[i]);
                }
            }
            for (int i = 0; i < img.symlinks.length; i++) {
                final int len = Short.toUnsignedInt(b.getShort());
                final byte[] path = new byte[len];
                b.get(path);
                img.symlinks[i] = new String(path, StandardCharsets.UTF_8);
            }
            for (int i = 0; i < img.inodeMode.length; i++) {
                img.inodeMode[i] = b.getLong();
                final long no = b.getLong();
                img.inodeData[i] = b.getLong();
                img.inodeCount[i] = b.getLong();
                if (no != i + 1) {
                    throw bad("inode " + (i + 1) + " says it is " + no);
                }
            }
        } catch (final java.nio.BufferUnderflowException e) {
            throw bad("structure area shorter than its counts");
        }
        final int[] dirParents = new int[img.inodeMode.length];
        for (int i = 0; i < img.inodeMode.length; i++) {
            final long data = img.inodeData[i];
            final long count = img.inodeCount[i];
            switch ((int)(img.inodeMode[i] & 0xF000)) {
                case (int)RofsFormat.MODE_DIR -> {
                    if (data < 0 || count < 0 || data + count > img.direntInode.length) {
                        throw bad("directory inode " + (i + 1) + " entries out of range");
                    }
                    for (long e = data; e < data + count; e++) {
                        final int child = (int)img.direntInode[(int)e] - 1;
                        if ((img.inodeMode[child] & 0xF000) == RofsFormat.MODE_DIR) {
                            img.subdirs[i]++;
                            if (child == 0 || dirParents[child]++ > 0) {
                                throw bad("directory inode " + (child + 1) + " is linked more than once");
                            }
                        }
                    }
                }
                case (int)RofsFormat.MODE_FILE -> {
                    final long blocks = (count + RofsFormat.BLOCK_SIZE - 1) / RofsFormat.BLOCK_SIZE;
                    if (data < 0 || count < 0 || data > deviceBlocks || blocks > deviceBlocks - data) {
                        throw bad("file inode " + (i + 1) + " data out of the device");
                    }
                }
                case (int)RofsFormat.MODE_SYMLINK -> {
                    if (data < 0 || data >= img.symlinks.length) {
                        throw bad("symlink inode " + (i + 1) + " index out of range");
                    }
                }
                default -> throw bad("inode " + (i + 1) + " has mode 0x" + Long.toHexString(img.inodeMode[i]));
            }
        }
        if ((img.inodeMode[0] & 0xF000) != RofsFormat.MODE_DIR) {
            throw bad("root inode is not a directory");
        }
        return img;
    }
}
