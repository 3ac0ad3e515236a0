package dev.osvj.vfs.pseudo;

/**
 * procfs ({@code /proc}). The VFS subsystem registers {@code mounts}, {@code uptime},
 * {@code cpuinfo}, {@code loadavg}, {@code meminfo}, {@code self/{maps,stat,status}},
 * {@code net/{dev,tcp}} and {@code sys/kernel/hostname} with fallback content; the subsystem that
 * owns the real numbers replaces its entries through {@link #file} (the mmu's VMAs and page counts for
 * {@code self/maps} and {@code meminfo}, the network stack for {@code net/*}, the scheduler for
 * {@code loadavg}).
 */
public final class ProcFs extends PseudoFs {
    /** Linux's PROC_SUPER_MAGIC. */
    public static final long PROC_SUPER_MAGIC = 0x9fa0L;

    public ProcFs() {
        super("procfs", PROC_SUPER_MAGIC);
    }
}
