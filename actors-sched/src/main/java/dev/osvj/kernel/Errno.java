package dev.osvj.kernel;

/**
 * POSIX error numbers, with the values Linux uses on x86-64, as the kernel API reports them.
 *
 * <p>Calls that a POSIX program would make return {@code -errno} on failure (the Linux kernel's
 * internal convention: no allocation, no exception on an expected outcome), or throw
 * {@link ErrnoException} in the convenience layer. A kernel bug is never an errno: it is an exception
 * that the subsystem's supervisor sees.
 */
public enum Errno {
    EPERM(1, "Operation not permitted"),
    ENOENT(2, "No such file or directory"),
    ESRCH(3, "No such process"),
    EINTR(4, "Interrupted system call"),
    EIO(5, "Input/output error"),
    ENXIO(6, "No such device or address"),
    E2BIG(7, "Argument list too long"),
    ENOEXEC(8, "Exec format error"),
    EBADF(9, "Bad file descriptor"),
    ECHILD(10, "No child processes"),
    EAGAIN(11, "Resource temporarily unavailable"),
    ENOMEM(12, "Cannot allocate memory"),
    EACCES(13, "Permission denied"),
    EFAULT(14, "Bad address"),
    ENOTBLK(15, "Block device required"),
    EBUSY(16, "Device or resource busy"),
    EEXIST(17, "File exists"),
    EXDEV(18, "Invalid cross-device link"),
    ENODEV(19, "No such device"),
    ENOTDIR(20, "Not a directory"),
    EISDIR(21, "Is a directory"),
    EINVAL(22, "Invalid argument"),
    ENFILE(23, "Too many open files in system"),
    EMFILE(24, "Too many open files"),
    ENOTTY(25, "Inappropriate ioctl for device"),
    ETXTBSY(26, "Text file busy"),
    EFBIG(27, "File too large"),
    ENOSPC(28, "No space left on device"),
    ESPIPE(29, "Illegal seek"),
    EROFS(30, "Read-only file system"),
    EMLINK(31, "Too many links"),
    EPIPE(32, "Broken pipe"),
    EDOM(33, "Numerical argument out of domain"),
    ERANGE(34, "Numerical result out of range"),
    EDEADLK(35, "Resource deadlock avoided"),
    ENAMETOOLONG(36, "File name too long"),
    ENOLCK(37, "No locks available"),
    ENOSYS(38, "Function not implemented"),
    ENOTEMPTY(39, "Directory not empty"),
    ELOOP(40, "Too many levels of symbolic links"),
    ENOMSG(42, "No message of desired type"),
    ENODATA(61, "No data available"),
    ETIME(62, "Timer expired"),
    EOVERFLOW(75, "Value too large for defined data type"),
    EBADFD(77, "File descriptor in bad state"),
    ENOTSOCK(88, "Socket operation on non-socket"),
    EDESTADDRREQ(89, "Destination address required"),
    EMSGSIZE(90, "Message too long"),
    EPROTOTYPE(91, "Protocol wrong type for socket"),
    ENOPROTOOPT(92, "Protocol not available"),
    EPROTONOSUPPORT(93, "Protocol not supported"),
    ESOCKTNOSUPPORT(94, "Socket type not supported"),
    EOPNOTSUPP(95, "Operation not supported"),
    EPFNOSUPPORT(96, "Protocol family not supported"),
    EAFNOSUPPORT(97, "Address family not supported by protocol"),
    EADDRINUSE(98, "Address already in use"),
    EADDRNOTAVAIL(99, "Cannot assign requested address"),
    ENETDOWN(100, "Network is down"),
    ENETUNREACH(101, "Network is unreachable"),
    ENETRESET(102, "Network dropped connection on reset"),
    ECONNABORTED(103, "Software caused connection abort"),
    ECONNRESET(104, "Connection reset by peer"),
    ENOBUFS(105, "No buffer space available"),
    EISCONN(106, "Transport endpoint is already connected"),
    ENOTCONN(107, "Transport endpoint is not connected"),
    ESHUTDOWN(108, "Cannot send after transport endpoint shutdown"),
    ETIMEDOUT(110, "Connection timed out"),
    ECONNREFUSED(111, "Connection refused"),
    EHOSTDOWN(112, "Host is down"),
    EHOSTUNREACH(113, "No route to host"),
    EALREADY(114, "Operation already in progress"),
    EINPROGRESS(115, "Operation now in progress"),
    ESTALE(116, "Stale file handle"),
    EDQUOT(122, "Disk quota exceeded"),
    ECANCELED(125, "Operation canceled");

    /** EWOULDBLOCK is EAGAIN on Linux. */
    public static final Errno EWOULDBLOCK = EAGAIN;
    /** ENOTSUP is EOPNOTSUPP on Linux. */
    public static final Errno ENOTSUP = EOPNOTSUPP;

    private static final Errno[] BY_NUMBER = new Errno[256];

    static {
        for (final Errno e : values()) {
            BY_NUMBER[e.number] = e;
        }
    }

    private final int number;
    private final String message;

    Errno(final int number, final String message) {
        this.number = number;
        this.message = message;
    }

    /** The Linux errno value. */
    public int number() {
        return number;
    }

    /** The strerror(3) text. */
    public String message() {
        return message;
    }

    /** The kernel-convention return value for this error: {@code -number()}. */
    public int negative() {
        return -number;
    }

    /**
     * The errno for a number, or {@code null} when the number is not one of ours.
     *
     * @param number a positive errno value.
     */
    public static Errno of(final int number) {
        return number > 0 && number < BY_NUMBER.length ? BY_NUMBER[number] : null;
    }

    /**
     * Decode a kernel-convention result: negative values are {@code -errno}, others are successes.
     *
     * @return the errno, or {@code null} when {@code result >= 0}.
     */
    public static Errno fromResult(final long result) {
        return result < 0 && result > -BY_NUMBER.length ? of((int)-result) : null;
    }

    /**
     * Unwrap a kernel-convention result for the convenience layer.
     *
     * @return {@code result} when it is not negative.
     * @throws ErrnoException carrying the errno when it is.
     */
    public static long check(final long result) throws ErrnoException {
        if (result < 0) {
            final Errno errno = fromResult(result);
            throw new ErrnoException(errno != null ? errno : EINVAL, "result " + result);
        }
        return result;
    }

    /** {@code "ENOENT (No such file or directory)"}. */
    public String describe() {
        return name() + " (" + message + ")";
    }
}
