package dev.osvj.mmu;

/**
 * A memory access the MMU could not satisfy: an unmapped address, an access against the mapping's
 * protection, a file page beyond the end of the file, or no memory to back the page. Thrown to the
 * faulting kernel thread from the access method (OSv turns it into SIGSEGV/SIGBUS for the
 * application); the kernel itself keeps running. Carries the faulting address and the kind, like the
 * x86 page-fault error code plus CR2.
 *
 * <p>Unchecked, without a stack trace (a fault is an expected outcome of a bad application address,
 * and some programs take many).
 */
public final class PageFault extends RuntimeException {
    /** What the access tried to do (error-code bits W and I/D). */
    public enum Access {
        READ, WRITE, EXEC
    }

    /** Why it failed. */
    public enum Cause {
        /** No mapping at the address (error-code P = 0; SIGSEGV, SEGV_MAPERR). */
        NOT_PRESENT(Signal.SIGSEGV),
        /** Mapped, but the protection forbids the access (P = 1; SIGSEGV, SEGV_ACCERR). */
        PROTECTION(Signal.SIGSEGV),
        /** A file mapping's page lies beyond the end of the file (SIGBUS, BUS_ADRERR). */
        BEYOND_EOF(Signal.SIGBUS),
        /** No memory (or file I/O error) to back the page (SIGBUS). */
        NO_MEMORY(Signal.SIGBUS);

        private final Signal signal;

        Cause(final Signal signal) {
            this.signal = signal;
        }

        public Signal signal() {
            return signal;
        }
    }

    /** The POSIX signal an application would receive. */
    public enum Signal {
        SIGSEGV, SIGBUS
    }

    private final long address;
    private final Access access;
    private final Cause cause;

    public PageFault(final long address, final Access access, final Cause cause) {
        super(null, null, false, false);
        this.address = address;
        this.access = access;
        this.cause = cause;
    }

    /** The faulting virtual address (CR2). */
    public long address() {
        return address;
    }

    public Access access() {
        return access;
    }

    public Cause kind() {
        return cause;
    }

    public Signal signal() {
        return cause.signal();
    }

    @Override
    public String getMessage() {
        return "page fault: " + access.name().toLowerCase(java.util.Locale.ROOT) + " at 0x" + Long.toHexString(address)
            + ", " + cause.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ') + " (" + cause.signal() + ")";
    }
}
