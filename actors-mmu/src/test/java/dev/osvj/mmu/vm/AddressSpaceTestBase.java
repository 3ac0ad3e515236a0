package dev.osvj.mmu.vm;

import dev.osvj.kernel.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

import static dev.osvj.mmu.Mman.MAP_ANONYMOUS;
import static dev.osvj.mmu.Mman.MAP_PRIVATE;
import static dev.osvj.mmu.Mman.PROT_READ;
import static dev.osvj.mmu.Mman.PROT_WRITE;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** 32 MiB of guest RAM, two vCPUs, the test thread bound to vCPU 0 as application code. */
abstract class AddressSpaceTestBase {
    static final long MIB = 1L << 20;
    static final int RW = PROT_READ | PROT_WRITE;
    static final int ANON = MAP_PRIVATE | MAP_ANONYMOUS;

    Fixture f;
    AddressSpace as;

    @BeforeEach
    void setUpAddressSpace() {
        f = new Fixture(32 * MIB, 2, true);
        f.cpus.bind(0, true);
        as = f.space;
    }

    @AfterEach
    void tearDownAddressSpace() {
        f.close();
    }

    /** {@code rc}, after checking it is not {@code -errno}. */
    static long ok(final long rc) {
        assertTrue(rc >= 0, () -> "failed: " + Errno.fromResult(rc));
        return rc;
    }
}
