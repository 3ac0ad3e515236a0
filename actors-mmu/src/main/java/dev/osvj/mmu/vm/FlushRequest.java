package dev.osvj.mmu.vm;

/**
 * One TLB shootdown IPI as the receiving vCPU sees it: after flushing its TLB, the vCPU calls
 * {@link #acknowledge} exactly once (OSv decrements an atomic pending count the initiator waits on).
 * Implementations are thread-safe; {@code acknowledge} must not block.
 */
@FunctionalInterface
public interface FlushRequest {
    /** @param cpu the vCPU that has flushed. */
    void acknowledge(int cpu);
}
