package dev.osvj.mmu.phys;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Asks the host kernel to back guest RAM with transparent huge pages ({@code madvise(MADV_HUGEPAGE)},
 * as QEMU does for a VM's RAM): with the host's THP in its default {@code madvise} mode, 2 MiB host
 * pages cut the host TLB misses of guest memory accesses (page zeroing, page-table walks) and the
 * host faults of first touches. Only a hint: nothing depends on it, and a failure is ignored.
 *
 * <p>The downcall handle costs tens of milliseconds to create once per JVM, so the advice is given
 * on a background daemon thread and never delays a boot.
 */
final class HostHugePages {
    private static final int MADV_HUGEPAGE = 14;

    private HostHugePages() {
    }

    /** True once the downcall handle exists: later advice is a direct call (a syscall that only flags the range). */
    private static volatile boolean ready;

    /**
     * Advise {@code [address, address + length)} (2 MiB aligned): on a background thread the first
     * time in a JVM, directly afterwards.
     */
    static void advise(final long address, final long length) {
        if (ready) {
            call(address, length);
            return;
        }
        Thread.ofPlatform().daemon().name("osvj-thp-advice").start(() -> {
            call(address, length);
            ready = true;
        });
    }

    private static void call(final long address, final long length) {
        try {
            final int ignored = (int)Holder.MADVISE.invokeExact(address, length, MADV_HUGEPAGE);
        } catch (final Throwable e) {
            // No native access or no madvise: 4 KiB host pages, which work just as well.
        }
    }

    private static final class Holder {
        static final MethodHandle MADVISE = lookup();

        private static MethodHandle lookup() {
            final Linker linker = Linker.nativeLinker();
            return linker.downcallHandle(linker.defaultLookup().find("madvise").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        }
    }
}
