package dev.osvj.mmu.vm;

import dev.osvj.mmu.PageFault;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static dev.osvj.mmu.Mman.MAP_ANONYMOUS;
import static dev.osvj.mmu.Mman.MAP_PRIVATE;
import static dev.osvj.mmu.Mman.PROT_READ;
import static dev.osvj.mmu.Mman.PROT_WRITE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Ranged TLB invalidation (INVLPG) and the {@code osvj.mmu.TlbShootdown} tracepoint. */
class TlbRangeFlushTest {
    private static final int RW = PROT_READ | PROT_WRITE;
    private static final int ANON = MAP_PRIVATE | MAP_ANONYMOUS;

    private Fixture f;

    @AfterEach
    void tearDown() {
        if (f != null) {
            f.close();
        }
    }

    @Test
    void shouldInvalidateOnlyTheRangesPages() {
        final Tlb tlb = new Tlb(0, 64);
        for (long vpn = 100; vpn < 110; vpn++) {
            assertTrue(tlb.fill(new Tlb.Entry(vpn, vpn << 12, true, false), tlb.generation()));
        }
        final long generation = tlb.generation();
        tlb.flushRange(102, 3);
        assertNull(tlb.lookup(102));
        assertNull(tlb.lookup(104));
        assertNotNull(tlb.lookup(101));
        assertNotNull(tlb.lookup(105), "pages outside the range keep their entries");
        assertTrue(tlb.generation() > generation, "a fill racing with the change is withdrawn");
        assertEquals(1, tlb.rangeFlushes());
        assertEquals(0, tlb.flushes());
        tlb.flushRange(0, Tlb.RANGE_FLUSH_CEILING + 1);
        assertEquals(0, tlb.occupied(), "a large range flushes everything");
        assertEquals(1, tlb.flushes());
    }

    @Test
    void shouldKeepOtherTranslationsOnMunmapOfOnePage() {
        f = new Fixture(8L << 20, 1, true);
        final long va = f.space.mmap(0, 8 * 4096, RW, ANON);
        for (int i = 0; i < 8; i++) {
            f.space.putLong(va + i * 4096L, i);
        }
        final Tlb tlb = f.shootdown.tlb(0);
        final int cached = tlb.occupied();
        assertEquals(0, f.space.munmap(va + 3 * 4096, 4096));
        assertEquals(cached - 1, tlb.occupied());
        assertThrows(PageFault.class, () -> f.space.getLong(va + 3 * 4096));
        final long misses = tlb.misses();
        assertEquals(7, f.space.getLong(va + 7 * 4096));
        assertEquals(misses, tlb.misses(), "still a TLB hit");
    }

    @Test
    void shouldRecordShootdownsAsJfrEvents(@TempDir final Path dir) throws Exception {
        f = new Fixture(8L << 20, 2, true);
        final long va = f.space.mmap(0, 4 * 4096, RW, ANON);
        f.space.putLong(va, 1);
        final Path file = dir.resolve("shootdown.jfr");
        try (Recording recording = new Recording()) {
            recording.enable("osvj.mmu.TlbShootdown");
            recording.start();
            assertEquals(0, f.space.munmap(va, 4096)); // an unbound (kernel) thread: IPIs the other vCPU
            recording.stop();
            recording.dump(file);
        }
        final List<RecordedEvent> events = RecordingFile.readAllEvents(file).stream()
            .filter(e -> e.getEventType().getName().equals("osvj.mmu.TlbShootdown")).toList();
        assertEquals(1, events.size());
        final RecordedEvent e = events.get(0);
        assertEquals(va, e.getLong("start"));
        assertEquals(4096, e.getLong("bytes"));
        assertEquals(1, e.getInt("ipis"));
        assertEquals(0, e.getInt("lazy"));
        assertEquals(false, e.getBoolean("singleCpu"));
    }
}
