package dev.osvj.vfs.virtiofs;

import dev.osvj.kernel.ErrnoException;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * The read-only FUSE session {@link VirtioFs} mounts: one shared folder, named by its tag, as node ids
 * ({@link #ROOT_ID} is the folder) and file handles. The virtio-fs driver implements it through the
 * system module's glue; actors-vfs needs no virtio classes. Node ids and handles are the server's;
 * each successful {@link #lookup} adds one reference that {@link #forget} gives back.
 *
 * <p>Calls block until the server answers and may come from any number of threads at once.
 * Operations return a count or {@code -errno}, or throw {@link ErrnoException}, as VnodeOps does.
 */
public interface FuseClient {
    /** The node id of the shared folder itself. */
    long ROOT_ID = 1;

    /** Attributes of a node (times in nanoseconds since the epoch, mode with its S_IFMT bits, host ids). */
    record Attr(long ino, long size, long blocks, long atimeNs, long mtimeNs, long ctimeNs, int mode, int nlink,
        int uid, int gid) {
    }

    /** A looked-up child: its node id and attributes. */
    record Entry(long nodeid, Attr attr) {
    }

    /** Receives directory entries ({@code type} a DT_* code); false stops before this entry. */
    @FunctionalInterface
    interface DirentConsumer {
        boolean accept(long ino, long nextOffset, int type, String name);
    }

    /** Finds the session of a mount source (a tag), published as a service by the glue. */
    @FunctionalInterface
    interface Provider {
        List<FuseClient> clients();
    }

    /** The mount tag ({@code host0}). */
    String tag();

    /** LOOKUP {@code name} in directory {@code parent}; ENOENT when there is no such child. */
    Entry lookup(long parent, String name) throws ErrnoException;

    Attr getattr(long nodeid) throws ErrnoException;

    /** OPEN/OPENDIR read-only: a handle (non-negative) or -errno. */
    long open(long nodeid, boolean dir);

    int release(long nodeid, long fh, boolean dir);

    /** READ into {@code dst} from {@code offset} up to its remaining bytes, advancing it: bytes read or -errno. */
    long read(long nodeid, long fh, long offset, ByteBuffer dst);

    /** One READDIR from {@code offset} (0 = first): the offset to continue from (unchanged at the end) or -errno. */
    long readdir(long nodeid, long fh, long offset, DirentConsumer sink);

    String readlink(long nodeid) throws ErrnoException;

    /** STATFS of the shared folder into {@code out} (bsize, blocks, bfree, bavail, files, ffree); 0 or -errno. */
    int statfs(dev.osvj.vfs.StatFs out);

    /** Give back {@code nlookup} lookups of {@code nodeid}. */
    void forget(long nodeid, long nlookup);
}
