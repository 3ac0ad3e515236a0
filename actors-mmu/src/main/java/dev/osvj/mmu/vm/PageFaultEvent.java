package dev.osvj.mmu.vm;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** Tracepoint {@code osvj.mmu.PageFault}: a fault that could not be resolved (SIGSEGV/SIGBUS). */
@Name("osvj.mmu.PageFault")
@Label("Page fault")
@Category({"osvj", "mmu"})
@Description("An application access the MMU refused: address, access kind and cause")
public final class PageFaultEvent extends jdk.jfr.Event {
    @Label("Address")
    public long address;
    @Label("Access")
    public String access;
    @Label("Cause")
    public String cause;
}
