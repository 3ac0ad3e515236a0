package dev.osvj.vfs;

import dev.osvj.kernel.KernelClock;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The per-directory dentry table: lookups from a region of a path, chains, removal, growth. */
class DentryTableTest {
    private static final Mount MOUNT = Mount.detached("test", KernelClock.SYSTEM);

    private static Vnode file(final long ino) {
        return new Vnode(MOUNT, ino, VType.VREG, 0644, new VnodeOps() {
        }, null);
    }

    @Test
    void shouldFindANameInsideAPathWithoutASubstring() {
        final DentryTable t = new DentryTable();
        final Vnode lib = file(1);
        assertTrue(t.putIfAbsent("lib", lib));
        assertFalse(t.putIfAbsent("lib", file(2)), "a name is added once");
        final String path = "/usr/lib/x";
        assertSame(lib, t.get(path, 5, 8, DentryTable.hash(path, 5, 8)));
        assertEquals("lib".hashCode(), DentryTable.hash(path, 5, 8));
        assertNull(t.get(path, 5, 7, DentryTable.hash(path, 5, 7)), "a prefix is another name");
        assertNull(t.get(path, 1, 4, DentryTable.hash(path, 1, 4)));
        assertSame(lib, t.get("lib"));
    }

    @Test
    void shouldKeepEveryOtherEntryThroughRemovalsAndGrowth() {
        final DentryTable t = new DentryTable();
        final int n = 2000;
        final Vnode[] v = new Vnode[n];
        for (int i = 0; i < n; i++) {
            v[i] = file(i);
            assertTrue(t.putIfAbsent("f" + i, v[i]));
        }
        assertEquals(n, t.size());
        for (int i = 0; i < n; i += 3) {
            assertSame(v[i], t.remove("f" + i));
        }
        assertNull(t.remove("f0"), "already gone");
        assertNull(t.remove("f1", v[2]), "conditional removal needs the same child");
        for (int i = 0; i < n; i++) {
            if (i % 3 == 0) {
                assertNull(t.get("f" + i));
            } else {
                assertSame(v[i], t.get("f" + i), "f" + i);
            }
        }
        final List<String> names = t.names();
        assertEquals(t.size(), names.size());
        final Set<String> unique = new HashSet<>(names);
        assertEquals(names.size(), unique.size());
        assertTrue(unique.contains("f1") && !unique.contains("f3"));
    }

    @Test
    void shouldLetReadersRunWhileAWriterChangesTheTable() throws Exception {
        final DentryTable t = new DentryTable();
        final Vnode stable = file(1);
        t.putIfAbsent("stable", stable);
        final int rounds = 20_000;
        final Thread writer = Thread.ofPlatform().start(() -> {
            for (int i = 0; i < rounds; i++) {
                t.putIfAbsent("n" + i, file(i + 2));
                if (i >= 8) {
                    t.remove("n" + (i - 8));
                }
            }
        });
        do {
            assertSame(stable, t.get("/a/stable/b", 3, 9, "stable".hashCode()), "a stable entry is never missed");
        } while (writer.isAlive());
        writer.join();
        assertEquals(9, t.size());
    }
}
