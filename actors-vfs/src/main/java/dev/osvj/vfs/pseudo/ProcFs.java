package dev.osvj.vfs.pseudo;

/**
 * procfs ({@code /proc}). The VFS subsystem registers {@code mounts}, {@code uptime},
 * {@code cpuinfo}, {@code loadavg}, {@code meminfo}, {@code self/{maps,stat,status}},
 * {@code net/{dev,tcp}} and {@code sys/kernel/hostname} with fallback content; the subsystem that
 * owns the real numbers replaces its entries through {@link #file}. Subsystems that boot before the
 * VFS are registered by the system module's proc glue: the mmu's {@code meminfo}, the network stack's
 * {@code net/dev}, {@code net/tcp} and {@code net/udp}, the scheduler's {@code stat} and
 * {@code cpuinfo}, {@code loadavg} (sampled from the scheduler) and {@code self/maps} (the mmu's
 * VMAs).
 */
public final class ProcFs extends PseudoFs {
    /** Linux's PROC_SUPER_MAGIC. */
    public static final long PROC_SUPER_MAGIC = 0x9fa0L;

    public ProcFs() {
        super("procfs", PROC_SUPER_MAGIC);
    }
}
