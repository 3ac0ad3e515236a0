package dev.osvj.vfs;

import java.nio.ByteBuffer;

/** {@link Sys} on an osvj {@link Vfs}, inside a base directory. */
final class VfsSys implements Sys {
    private final Vfs vfs;
    private final String base;

    VfsSys(final Vfs vfs, final String base) {
        this.vfs = vfs;
        this.base = base;
    }

    private String p(final String path) {
        return path.isEmpty() || path.startsWith("/") ? path : base + "/" + path;
    }

    @Override
    public long open(final String path, final int flags, final int mode) {
        return vfs.open(p(path), flags, mode);
    }

    @Override
    public long openat(final int dirfd, final String path, final int flags, final int mode) {
        return vfs.openat(dirfd, path, flags, mode);
    }

    @Override
    public long close(final int fd) {
        return vfs.close(fd);
    }

    @Override
    public long read(final int fd, final byte[] buf, final int len) {
        return vfs.read(fd, buf, 0, len);
    }

    @Override
    public long write(final int fd, final byte[] buf) {
        return vfs.write(fd, buf, 0, buf.length);
    }

    @Override
    public long pread(final int fd, final byte[] buf, final int len, final long offset) {
        return vfs.pread(fd, ByteBuffer.wrap(buf, 0, len), offset);
    }

    @Override
    public long pwrite(final int fd, final byte[] buf, final long offset) {
        return vfs.pwrite(fd, buf, 0, buf.length, offset);
    }

    @Override
    public long lseek(final int fd, final long offset, final int whence) {
        return vfs.lseek(fd, offset, whence);
    }

    @Override
    public long mkdir(final String path, final int mode) {
        return vfs.mkdir(p(path), mode);
    }

    @Override
    public long rmdir(final String path) {
        return vfs.rmdir(p(path));
    }

    @Override
    public long unlink(final String path) {
        return vfs.unlink(p(path));
    }

    @Override
    public long unlinkat(final int dirfd, final String path, final int flags) {
        return vfs.unlinkat(dirfd, path, flags);
    }

    @Override
    public long rename(final String from, final String to) {
        return vfs.rename(p(from), p(to));
    }

    @Override
    public long link(final String from, final String to) {
        return vfs.link(p(from), p(to));
    }

    @Override
    public long symlink(final String target, final String path) {
        return vfs.symlink(target, p(path));
    }

    @Override
    public long readlink(final String path, final byte[] buf) {
        return vfs.readlink(p(path), buf);
    }

    @Override
    public long truncate(final String path, final long length) {
        return vfs.truncate(p(path), length);
    }

    @Override
    public long ftruncate(final int fd, final long length) {
        return vfs.ftruncate(fd, length);
    }

    @Override
    public long fallocate(final int fd, final int mode, final long offset, final long length) {
        return vfs.fallocate(fd, mode, offset, length);
    }

    @Override
    public long fsync(final int fd) {
        return vfs.fsync(fd);
    }

    @Override
    public long access(final String path, final int mode) {
        return vfs.access(p(path), mode);
    }

    @Override
    public long faccessat(final int dirfd, final String path, final int mode, final int flags) {
        return vfs.faccessat(dirfd, path, mode, flags);
    }

    @Override
    public long chmod(final String path, final int mode) {
        return vfs.chmod(p(path), mode);
    }

    @Override
    public long stat(final String path, final Stat st) {
        return vfs.stat(p(path), st);
    }

    @Override
    public long lstat(final String path, final Stat st) {
        return vfs.lstat(p(path), st);
    }

    @Override
    public long fstat(final int fd, final Stat st) {
        return vfs.fstat(fd, st);
    }

    @Override
    public long fstatat(final int dirfd, final String path, final Stat st, final int flags) {
        return vfs.fstatat(dirfd, path, st, flags);
    }

    @Override
    public long utimensat(final String path, final long atimeSec, final long atimeNsec, final long mtimeSec,
        final long mtimeNsec, final int flags) {
        return vfs.utimensat(Posix.AT_FDCWD, p(path), atimeSec, atimeNsec, mtimeSec, mtimeNsec, flags);
    }

    @Override
    public long dup(final int fd) {
        return vfs.dup(fd);
    }

    @Override
    public long dup2(final int fd, final int fd2) {
        return vfs.dup2(fd, fd2);
    }

    @Override
    public long fcntl(final int fd, final int cmd, final int arg) {
        return vfs.fcntl(fd, cmd, arg);
    }

    @Override
    public long pipe(final int[] fds) {
        return vfs.pipe(fds);
    }

    @Override
    public long mkdirat(final int dirfd, final String path, final int mode) {
        return vfs.mkdirat(dirfd, path, mode);
    }

    @Override
    public long renameat(final int olddirfd, final String from, final int newdirfd, final String to) {
        return vfs.renameat(olddirfd, from, newdirfd, to);
    }
}
