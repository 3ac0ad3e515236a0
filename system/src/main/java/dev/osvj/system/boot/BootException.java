package dev.osvj.system.boot;

/** A boot phase failed: names the subsystem, its phase and the cause. */
public final class BootException extends Exception {
    private final String subsystem;
    private final String phase;

    public BootException(final String subsystem, final String phase, final Throwable cause) {
        super("boot failed in phase \"" + phase + "\" (" + subsystem + "): " + describe(cause), cause);
        this.subsystem = subsystem;
        this.phase = phase;
    }

    public String subsystem() {
        return subsystem;
    }

    public String phase() {
        return phase;
    }

    static String describe(final Throwable cause) {
        if (cause == null) {
            return "unknown cause";
        }
        final String message = cause.getMessage();
        return message == null || message.isBlank() ? cause.getClass().getSimpleName() : message;
    }
}
