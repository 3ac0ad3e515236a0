package dev.osvj.vfs.pseudo;

/**
 * sysfs ({@code /sys}): {@code devices/system/cpu/online}, {@code devices/system/node/node0/meminfo},
 * and the osvj counters under {@code osvj/<subsystem>/<counter>} (one value per file, as sysfs
 * does). Subsystems add their counters with {@link #file}.
 */
public final class SysFs extends PseudoFs {
    /** Linux's SYSFS_MAGIC. */
    public static final long SYSFS_MAGIC = 0x62656572L;

    public SysFs() {
        super("sysfs", SYSFS_MAGIC);
    }
}
