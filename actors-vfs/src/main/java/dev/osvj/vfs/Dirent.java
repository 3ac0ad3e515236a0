package dev.osvj.vfs;

/**
 * One directory entry as getdents reports it.
 *
 * @param ino  inode number
 * @param type a {@code DT_*} value of {@link Posix}
 * @param name the entry's name (no slash)
 * @param next the cookie of the entry after this one (d_off)
 */
public record Dirent(long ino, int type, String name, long next) {
}
