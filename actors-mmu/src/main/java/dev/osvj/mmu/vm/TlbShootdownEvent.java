package dev.osvj.mmu.vm;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/**
 * Tracepoint {@code osvj.mmu.TlbShootdown}: one {@code flush_tlb_all} (OSv {@code arch/x64/mmu.cc}),
 * from the initiator's own flush to the last acknowledgement; its duration is the time the initiator
 * waited. {@code bytes} is the range invalidated, or -1 for a whole-TLB flush.
 */
@Name("osvj.mmu.TlbShootdown")
@Label("TLB shootdown")
@Category({"osvj", "mmu"})
@Description("A TLB shootdown: initiating vCPU, range, IPIs sent, vCPUs left for a lazy flush")
public final class TlbShootdownEvent extends jdk.jfr.Event {
    @Label("Initiator vCPU")
    public int cpu;
    @Label("Start address")
    public long start;
    @Label("Bytes")
    @DataAmount
    public long bytes;
    @Label("IPIs sent")
    public int ipis;
    @Label("Lazy vCPUs")
    @Description("vCPUs not running application code, marked to flush at their next switch-in")
    public int lazy;
    @Label("Single-CPU shortcut")
    public boolean singleCpu;
}
