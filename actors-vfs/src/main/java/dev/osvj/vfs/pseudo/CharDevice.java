package dev.osvj.vfs.pseudo;

import dev.osvj.kernel.Errno;

import java.nio.ByteBuffer;

/**
 * A character device behind a devfs node ({@code /dev/null}, {@code /dev/console}...). Called without
 * any VFS lock; implementations synchronise themselves and may block (unless {@code O_NONBLOCK} is in
 * {@code flags}, then they answer EAGAIN). Results are counts or {@code -errno}.
 */
public interface CharDevice {
    /** Read up to {@code dst.remaining()} bytes; 0 is end of file. */
    long read(ByteBuffer dst, int flags);

    /** Write {@code src.remaining()} bytes (or fewer); returns the count. */
    long write(ByteBuffer src, int flags);

    default int ioctl(final long request, final Object arg) {
        return Errno.ENOTTY.negative();
    }
}
