package dev.osvj.vfs;

/**
 * The POSIX calls the conformance suite makes, each returning the result or {@code -errno}, so one
 * scenario runs against osvj ({@link VfsSys}) and against the host's Linux kernel ({@link HostSys})
 * and the two logs are compared. Paths relative to the scenario's base directory; {@code dirfd}
 * arguments are descriptors of the same implementation.
 */
interface Sys {
    long open(String path, int flags, int mode);

    long openat(int dirfd, String path, int flags, int mode);

    long close(int fd);

    long read(int fd, byte[] buf, int len);

    long write(int fd, byte[] buf);

    long pread(int fd, byte[] buf, int len, long offset);

    long pwrite(int fd, byte[] buf, long offset);

    long lseek(int fd, long offset, int whence);

    long mkdir(String path, int mode);

    long rmdir(String path);

    long unlink(String path);

    long unlinkat(int dirfd, String path, int flags);

    long rename(String from, String to);

    long link(String from, String to);

    long symlink(String target, String path);

    long readlink(String path, byte[] buf);

    long truncate(String path, long length);

    long ftruncate(int fd, long length);

    long fallocate(int fd, int mode, long offset, long length);

    long fsync(int fd);

    long access(String path, int mode);

    long faccessat(int dirfd, String path, int mode, int flags);

    long chmod(String path, int mode);

    long stat(String path, Stat st);

    long lstat(String path, Stat st);

    long fstat(int fd, Stat st);

    long fstatat(int dirfd, String path, Stat st, int flags);

    long utimensat(String path, long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec, int flags);

    long dup(int fd);

    long dup2(int fd, int fd2);

    long fcntl(int fd, int cmd, int arg);

    long pipe(int[] fds);

    long mkdirat(int dirfd, String path, int mode);

    long renameat(int olddirfd, String from, int newdirfd, String to);
}
