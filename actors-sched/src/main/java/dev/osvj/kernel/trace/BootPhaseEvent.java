package dev.osvj.kernel.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** Tracepoint {@code osvj.boot.Phase}: one boot phase of one subsystem, with its duration. */
@Name("osvj.boot.Phase")
@Label("Boot phase")
@Category({"osvj", "boot"})
@Description("A subsystem's boot phase; the event's duration is the phase's.")
public final class BootPhaseEvent extends jdk.jfr.Event {
    @Label("Kernel")
    public String kernel;

    @Label("Subsystem")
    public String subsystem;

    @Label("Phase")
    public String phase;

    @Label("Succeeded")
    public boolean ok;
}
