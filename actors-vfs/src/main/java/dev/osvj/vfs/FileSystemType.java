package dev.osvj.vfs;

import dev.osvj.kernel.ErrnoException;

import java.util.Map;

/**
 * A kind of filesystem the VFS can mount (OSv's {@code vfssw} entry): ramfs, rofs, devfs, procfs,
 * sysfs. Registered with {@link Vfs#registerFileSystem}.
 */
public interface FileSystemType {
    /** The type name used by mount: {@code ramfs}, {@code rofs}... */
    String name();

    /**
     * Mount a new instance (vfsops mount).
     *
     * @param mount   the mount being created; vnodes of the instance belong to it
     * @param source  the mount's source (a device path such as {@code /dev/vblk0}, a host path, or
     *                {@code none})
     * @param options mount options ({@code size=64M}, {@code ro}...), already split
     */
    FileSystem mount(Mount mount, String source, Map<String, String> options) throws ErrnoException;
}
