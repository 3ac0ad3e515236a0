package dev.osvj.kernel.console;

/**
 * Where the console shell sends a command's output for {@code > FILE} and {@code >> FILE}: the VFS
 * publishes this service. The shell collects the command's output, then writes it in one call.
 */
@FunctionalInterface
public interface OutputRedirect {
    /**
     * Write {@code data} to {@code path}, creating the file (mode 0666 minus the umask); truncate it
     * first unless {@code append}.
     *
     * @return bytes written, or {@code -errno}.
     */
    long write(String path, byte[] data, boolean append);
}
