package dev.osvj.vfs;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The oracle: the same calls on the host's Linux kernel through the FFM API (libc, errno captured),
 * inside a base directory. Relative paths of AT_FDCWD calls are prefixed with the base; x86-64
 * {@code struct stat} is decoded at its fixed offsets.
 */
final class HostSys implements Sys {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
    private static final MemoryLayout STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO_VH = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static final MethodHandle OPENAT = fn("openat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), 3);
    private static final MethodHandle CLOSE = fn("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), -1);
    private static final MethodHandle READ = fn("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), -1);
    private static final MethodHandle WRITE = fn("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), -1);
    private static final MethodHandle PREAD = fn("pread", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG), -1);
    private static final MethodHandle PWRITE = fn("pwrite", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG), -1);
    private static final MethodHandle LSEEK = fn("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT), -1);
    private static final MethodHandle MKDIRAT = fn("mkdirat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), -1);
    private static final MethodHandle UNLINKAT = fn("unlinkat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), -1);
    private static final MethodHandle RENAMEAT = fn("renameat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS), -1);
    private static final MethodHandle LINKAT = fn("linkat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT), -1);
    private static final MethodHandle SYMLINKAT = fn("symlinkat", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS), -1);
    private static final MethodHandle READLINKAT = fn("readlinkat", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG), -1);
    private static final MethodHandle TRUNCATE = fn("truncate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG), -1);
    private static final MethodHandle FTRUNCATE = fn("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG), -1);
    private static final MethodHandle FALLOCATE = fn("fallocate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), -1);
    private static final MethodHandle FSYNC = fn("fsync", FunctionDescriptor.of(JAVA_INT, JAVA_INT), -1);
    private static final MethodHandle FACCESSAT = fn("faccessat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), -1);
    private static final MethodHandle FCHMODAT = fn("fchmodat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), -1);
    private static final MethodHandle FSTATAT = fn("fstatat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), -1);
    private static final MethodHandle FSTAT = fn("fstat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), -1);
    private static final MethodHandle UTIMENSAT = fn("utimensat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), -1);
    private static final MethodHandle DUP = fn("dup", FunctionDescriptor.of(JAVA_INT, JAVA_INT), -1);
    private static final MethodHandle DUP2 = fn("dup2", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), -1);
    private static final MethodHandle FCNTL = fn("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), 2);
    private static final MethodHandle PIPE = fn("pipe", FunctionDescriptor.of(JAVA_INT, ADDRESS), -1);

    private static final MethodHandle UMASK = LINKER.downcallHandle(LIBC.find("umask").orElseThrow(),
        FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    private final String base;

    /** The host process's umask (read by setting and restoring it). */
    static int umask() {
        try {
            final int old = (int)UMASK.invokeExact(022);
            final int ignored = (int)UMASK.invokeExact(old);
            return old;
        } catch (final Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    HostSys(final Path base) {
        this.base = base.toAbsolutePath().toString();
    }

    private static MethodHandle fn(final String name, final FunctionDescriptor fd, final int firstVariadic) {
        final MemorySegment sym = LIBC.find(name).orElseThrow(() -> new IllegalStateException("no libc " + name));
        return firstVariadic < 0
            ? LINKER.downcallHandle(sym, fd, ERRNO)
            : LINKER.downcallHandle(sym, fd, ERRNO, Linker.Option.firstVariadicArg(firstVariadic));
    }

    private String p(final String path) {
        return path.isEmpty() || path.startsWith("/") ? path : base + "/" + path;
    }

    private interface Call {
        long invoke(Arena arena, MemorySegment state) throws Throwable;
    }

    private static long call(final Call call) {
        try (Arena arena = Arena.ofConfined()) {
            final MemorySegment state = arena.allocate(STATE);
            final long r = call.invoke(arena, state);
            if (r == -1) {
                return -(int)ERRNO_VH.get(state, 0L);
            }
            return r;
        } catch (final Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static MemorySegment str(final Arena a, final String s) {
        return a.allocateFrom(s, StandardCharsets.UTF_8);
    }

    @Override
    public long open(final String path, final int flags, final int mode) {
        return call((a, s) -> (int)OPENAT.invokeExact(s, Posix.AT_FDCWD, str(a, p(path)), flags, mode));
    }

    @Override
    public long openat(final int dirfd, final String path, final int flags, final int mode) {
        return call((a, s) -> (int)OPENAT.invokeExact(s, dirfd, str(a, path), flags, mode));
    }

    @Override
    public long close(final int fd) {
        return call((a, s) -> (int)CLOSE.invokeExact(s, fd));
    }

    @Override
    public long read(final int fd, final byte[] buf, final int len) {
        return call((a, s) -> {
            final MemorySegment m = a.allocate(Math.max(1, len));
            final long n = (long)READ.invokeExact(s, fd, m, (long)len);
            if (n > 0) {
                MemorySegment.copy(m, ValueLayout.JAVA_BYTE, 0, buf, 0, (int)n);
            }
            return n;
        });
    }

    @Override
    public long write(final int fd, final byte[] buf) {
        return call((a, s) -> (long)WRITE.invokeExact(s, fd, a.allocateFrom(ValueLayout.JAVA_BYTE, buf), (long)buf.length));
    }

    @Override
    public long pread(final int fd, final byte[] buf, final int len, final long offset) {
        return call((a, s) -> {
            final MemorySegment m = a.allocate(Math.max(1, len));
            final long n = (long)PREAD.invokeExact(s, fd, m, (long)len, offset);
            if (n > 0) {
                MemorySegment.copy(m, ValueLayout.JAVA_BYTE, 0, buf, 0, (int)n);
            }
            return n;
        });
    }

    @Override
    public long pwrite(final int fd, final byte[] buf, final long offset) {
        return call((a, s) -> (long)PWRITE.invokeExact(s, fd, a.allocateFrom(ValueLayout.JAVA_BYTE, buf), (long)buf.length, offset));
    }

    @Override
    public long lseek(final int fd, final long offset, final int whence) {
        return call((a, s) -> (long)LSEEK.invokeExact(s, fd, offset, whence));
    }

    @Override
    public long mkdir(final String path, final int mode) {
        return mkdirat(Posix.AT_FDCWD, p(path), mode);
    }

    @Override
    public long mkdirat(final int dirfd, final String path, final int mode) {
        return call((a, s) -> (int)MKDIRAT.invokeExact(s, dirfd, str(a, path), mode));
    }

    @Override
    public long rmdir(final String path) {
        return unlinkat(Posix.AT_FDCWD, p(path), Posix.AT_REMOVEDIR);
    }

    @Override
    public long unlink(final String path) {
        return unlinkat(Posix.AT_FDCWD, p(path), 0);
    }

    @Override
    public long unlinkat(final int dirfd, final String path, final int flags) {
        return call((a, s) -> (int)UNLINKAT.invokeExact(s, dirfd, str(a, path), flags));
    }

    @Override
    public long rename(final String from, final String to) {
        return renameat(Posix.AT_FDCWD, p(from), Posix.AT_FDCWD, p(to));
    }

    @Override
    public long renameat(final int olddirfd, final String from, final int newdirfd, final String to) {
        return call((a, s) -> (int)RENAMEAT.invokeExact(s, olddirfd, str(a, from), newdirfd, str(a, to)));
    }

    @Override
    public long link(final String from, final String to) {
        return call((a, s) -> (int)LINKAT.invokeExact(s, Posix.AT_FDCWD, str(a, p(from)), Posix.AT_FDCWD, str(a, p(to)), 0));
    }

    @Override
    public long symlink(final String target, final String path) {
        return call((a, s) -> (int)SYMLINKAT.invokeExact(s, str(a, target), Posix.AT_FDCWD, str(a, p(path))));
    }

    @Override
    public long readlink(final String path, final byte[] buf) {
        return call((a, s) -> {
            final MemorySegment m = a.allocate(Math.max(1, buf.length));
            final long n = (long)READLINKAT.invokeExact(s, Posix.AT_FDCWD, str(a, p(path)), m, (long)buf.length);
            if (n > 0) {
                MemorySegment.copy(m, ValueLayout.JAVA_BYTE, 0, buf, 0, (int)n);
            }
            return n;
        });
    }

    @Override
    public long truncate(final String path, final long length) {
        return call((a, s) -> (int)TRUNCATE.invokeExact(s, str(a, p(path)), length));
    }

    @Override
    public long ftruncate(final int fd, final long length) {
        return call((a, s) -> (int)FTRUNCATE.invokeExact(s, fd, length));
    }

    @Override
    public long fallocate(final int fd, final int mode, final long offset, final long length) {
        return call((a, s) -> (int)FALLOCATE.invokeExact(s, fd, mode, offset, length));
    }

    @Override
    public long fsync(final int fd) {
        return call((a, s) -> (int)FSYNC.invokeExact(s, fd));
    }

    @Override
    public long access(final String path, final int mode) {
        return faccessat(Posix.AT_FDCWD, p(path), mode, 0);
    }

    @Override
    public long faccessat(final int dirfd, final String path, final int mode, final int flags) {
        return call((a, s) -> (int)FACCESSAT.invokeExact(s, dirfd, str(a, path), mode, flags));
    }

    @Override
    public long chmod(final String path, final int mode) {
        return call((a, s) -> (int)FCHMODAT.invokeExact(s, Posix.AT_FDCWD, str(a, p(path)), mode, 0));
    }

    @Override
    public long stat(final String path, final Stat st) {
        return fstatat(Posix.AT_FDCWD, p(path), st, 0);
    }

    @Override
    public long lstat(final String path, final Stat st) {
        return fstatat(Posix.AT_FDCWD, p(path), st, Posix.AT_SYMLINK_NOFOLLOW);
    }

    @Override
    public long fstat(final int fd, final Stat st) {
        return call((a, s) -> {
            final MemorySegment m = a.allocate(144);
            final int r = (int)FSTAT.invokeExact(s, fd, m);
            decode(m, st);
            return r;
        });
    }

    @Override
    public long fstatat(final int dirfd, final String path, final Stat st, final int flags) {
        return call((a, s) -> {
            final MemorySegment m = a.allocate(144);
            final int r = (int)FSTATAT.invokeExact(s, dirfd, str(a, path), m, flags);
            decode(m, st);
            return r;
        });
    }

    /** x86-64 struct stat. */
    private static void decode(final MemorySegment m, final Stat st) {
        st.dev = m.get(JAVA_LONG, 0);
        st.ino = m.get(JAVA_LONG, 8);
        st.nlink = m.get(JAVA_LONG, 16);
        st.mode = m.get(JAVA_INT, 24);
        st.uid = m.get(JAVA_INT, 28);
        st.gid = m.get(JAVA_INT, 32);
        st.rdev = m.get(JAVA_LONG, 40);
        st.size = m.get(JAVA_LONG, 48);
        st.blksize = (int)m.get(JAVA_LONG, 56);
        st.blocks = m.get(JAVA_LONG, 64);
        st.atimeSec = m.get(JAVA_LONG, 72);
        st.atimeNsec = m.get(JAVA_LONG, 80);
        st.mtimeSec = m.get(JAVA_LONG, 88);
        st.mtimeNsec = m.get(JAVA_LONG, 96);
        st.ctimeSec = m.get(JAVA_LONG, 104);
        st.ctimeNsec = m.get(JAVA_LONG, 112);
    }

    @Override
    public long utimensat(final String path, final long atimeSec, final long atimeNsec, final long mtimeSec,
        final long mtimeNsec, final int flags) {
        return call((a, s) -> {
            final MemorySegment times = a.allocate(32);
            times.set(JAVA_LONG, 0, atimeSec);
            times.set(JAVA_LONG, 8, atimeNsec);
            times.set(JAVA_LONG, 16, mtimeSec);
            times.set(JAVA_LONG, 24, mtimeNsec);
            return (int)UTIMENSAT.invokeExact(s, Posix.AT_FDCWD, str(a, p(path)), times, flags);
        });
    }

    @Override
    public long dup(final int fd) {
        return call((a, s) -> (int)DUP.invokeExact(s, fd));
    }

    @Override
    public long dup2(final int fd, final int fd2) {
        return call((a, s) -> (int)DUP2.invokeExact(s, fd, fd2));
    }

    @Override
    public long fcntl(final int fd, final int cmd, final int arg) {
        return call((a, s) -> (int)FCNTL.invokeExact(s, fd, cmd, arg));
    }

    @Override
    public long pipe(final int[] fds) {
        return call((a, s) -> {
            final MemorySegment m = a.allocate(8);
            final int r = (int)PIPE.invokeExact(s, m);
            fds[0] = m.get(JAVA_INT, 0);
            fds[1] = m.get(JAVA_INT, 4);
            return r;
        });
    }
}
