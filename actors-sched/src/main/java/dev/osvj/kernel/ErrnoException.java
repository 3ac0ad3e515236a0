package dev.osvj.kernel;

/**
 * An expected POSIX failure in the convenience layer of the kernel API: carries the {@link Errno}
 * and, optionally, what the call was working on ({@code open /etc/x: ENOENT (No such file ...)}).
 */
public final class ErrnoException extends Exception {
    private final Errno errno;

    public ErrnoException(final Errno errno) {
        this(errno, null);
    }

    public ErrnoException(final Errno errno, final String context) {
        super(context == null ? errno.describe() : context + ": " + errno.describe(), null, false, false);
        this.errno = errno;
    }

    public Errno errno() {
        return errno;
    }
}
