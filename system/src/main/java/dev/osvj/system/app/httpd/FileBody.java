package dev.osvj.system.app.httpd;

import dev.osvj.vfs.Vfs;

/**
 * A response body streamed from an open VFS file: {@code remaining} bytes from {@code position}, read
 * chunk by chunk into the connection's output buffer as the socket takes them, so a file of any size is
 * sent with one chunk of heap ({@link HttpConnection.OutBuffer#CHUNK}) per connection. Owns the file
 * descriptor until it is {@link #close}d (after the last byte, or when the connection closes first).
 * Owned by one worker thread.
 */
final class FileBody {
    private final Vfs vfs;
    private final int fd;
    private long position;
    private long remaining;
    private boolean closed;

    /** Takes ownership of {@code fd}. */
    FileBody(final Vfs vfs, final int fd, final long position, final long length) {
        this.vfs = vfs;
        this.fd = fd;
        this.position = position;
        this.remaining = length;
    }

    long remaining() {
        return remaining;
    }

    /**
     * Read the next bytes into {@code dst[off, off + max)}.
     *
     * @return bytes read; 0 once the body is complete; -1 when the file ended (or failed) before the
     *     announced length: the response cannot be completed and the connection must close.
     */
    int read(final byte[] dst, final int off, final int max) {
        if (remaining == 0) {
            close();
            return 0;
        }
        final long n = closed ? -1 : vfs.pread(fd, dst, off, (int)Math.min(max, remaining), position);
        if (n <= 0) {
            close();
            return -1;
        }
        position += n;
        remaining -= n;
        if (remaining == 0) {
            close();
        }
        return (int)n;
    }

    /** Release the file descriptor. Idempotent. */
    void close() {
        if (!closed) {
            closed = true;
            vfs.close(fd);
        }
    }
}
