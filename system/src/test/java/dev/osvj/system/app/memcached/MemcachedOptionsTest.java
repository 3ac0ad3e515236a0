package dev.osvj.system.app.memcached;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class MemcachedOptionsTest {
    @Test
    void shouldTakeMemcachedsDefaultsWithOneThreadPerVcpu() {
        final MemcachedOptions o = MemcachedOptions.parse(List.of(), 3);
        assertEquals(11211, o.port());
        assertEquals(64L << 20, o.memoryLimit());
        assertEquals(1024, o.maxConnections());
        assertEquals(3, o.threads());
        assertEquals(1 << 20, o.itemSizeMax());
    }

    @Test
    void shouldParseShortLongAndJoinedForms() {
        final MemcachedOptions o = MemcachedOptions.parse(
            List.of("-m", "128", "-p11212", "--conn-limit=10", "-t", "4", "-I", "512k", "-l", "127.0.0.1", "-C", "-vv"), 2);
        assertEquals(128L << 20, o.memoryLimit());
        assertEquals(11212, o.port());
        assertEquals(10, o.maxConnections());
        assertEquals(4, o.threads());
        assertEquals(512 * 1024, o.itemSizeMax());
        assertEquals(0x7F000001, o.listenIp());
        assertFalse(o.useCas());
        assertEquals(2, o.verbosity());
    }

    @Test
    void shouldRejectBadOptionsWithAMessageNamingThem() {
        assertEquals("memcached: -p must be in 1..65535, got 70000",
            assertThrows(IllegalArgumentException.class, () -> MemcachedOptions.parse(List.of("-p", "70000"), 1)).getMessage());
        assertEquals("memcached: option -m needs a value",
            assertThrows(IllegalArgumentException.class, () -> MemcachedOptions.parse(List.of("-m"), 1)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> MemcachedOptions.parse(List.of("-U", "11211"), 1));
        assertThrows(IllegalArgumentException.class, () -> MemcachedOptions.parse(List.of("-x"), 1));
        assertThrows(IllegalArgumentException.class, () -> MemcachedOptions.parse(List.of("-I", "2g"), 1));
    }
}
