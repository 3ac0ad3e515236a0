package dev.osvj.vfs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import org.junit.jupiter.api.Test;

import static dev.osvj.vfs.Posix.O_RDONLY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DentryCacheTest {
    @Test
    void shouldAnswerRepeatedLookupsFromTheCacheWithoutAskingTheFilesystem() throws ErrnoException {
        final StaticFs fs = new StaticFs();
        fs.files.put("a", new byte[]{1});
        fs.files.put("b", new byte[]{2});
        final Vfs vfs = StaticFs.mountedAt(fs, "/s");
        vfs.stat("/s/a");
        assertEquals(1, fs.lookups.get());
        final long hits = vfs.dentryHits();
        for (int i = 0; i < 10; i++) {
            vfs.stat("/s/a");
        }
        assertEquals(1, fs.lookups.get(), "no filesystem lookup after the first");
        assertTrue(vfs.dentryHits() >= hits + 10);
        assertEquals(Errno.ENOENT, Errno.fromResult(vfs.stat("/s/zz", new Stat())));
        assertEquals(Errno.ENOENT, Errno.fromResult(vfs.stat("/s/zz", new Stat())));
        assertEquals(3, fs.lookups.get(), "misses are not cached");
    }

    @Test
    void shouldStayWithinItsBound() throws ErrnoException {
        final Vfs vfs = TestVfs.ramfsRoot(64, 100);
        TestVfs.check(vfs.mkdir("/d", 0755));
        for (int i = 0; i < 1000; i++) {
            vfs.writeFile("/d/f" + i, new byte[]{(byte)i});
        }
        for (int i = 0; i < 1000; i++) {
            assertEquals((byte)i, vfs.readFile("/d/f" + i)[0]);
            assertTrue(vfs.dentryCacheSize() <= 100, "size " + vfs.dentryCacheSize());
        }
        assertTrue(vfs.counters().get("dentry_evictions") > 0);
        // Create/unlink cycles must not grow anything without bound.
        for (int i = 0; i < 20_000; i++) {
            vfs.writeFile("/d/tmp", new byte[0]);
            TestVfs.check(vfs.unlink("/d/tmp"));
        }
        assertTrue(vfs.dentryCacheSize() <= 100);
    }

    @Test
    void shouldNeverAnswerWithAStaleEntry() throws ErrnoException {
        final Vfs vfs = TestVfs.ramfsRoot();
        TestVfs.check(vfs.mkdir("/d", 0755));
        vfs.writeFile("/d/f", new byte[]{1});
        vfs.stat("/d/f");
        TestVfs.check(vfs.unlink("/d/f"));
        assertEquals(Errno.ENOENT, Errno.fromResult(vfs.stat("/d/f", new Stat())));
        vfs.writeFile("/d/g", new byte[]{2});
        vfs.stat("/d/g");
        TestVfs.check(vfs.rename("/d/g", "/d/h"));
        assertEquals(Errno.ENOENT, Errno.fromResult(vfs.stat("/d/g", new Stat())));
        assertEquals(2, vfs.readFile("/d/h")[0]);
        final long oldIno = vfs.stat("/d").ino;
        vfs.stat("/d/h");
        TestVfs.check(vfs.unlink("/d/h"));
        TestVfs.check(vfs.rmdir("/d"));
        TestVfs.check(vfs.mkdir("/d", 0755));
        assertNotEquals(oldIno, vfs.stat("/d").ino, "a new directory, not the cached old one");
        assertEquals(Errno.ENOENT, Errno.fromResult(vfs.open("/d/h", O_RDONLY)));
        // Moving a directory moves what is below it.
        TestVfs.check(vfs.mkdir("/d/sub", 0755));
        vfs.writeFile("/d/sub/x", new byte[]{3});
        vfs.stat("/d/sub/x");
        TestVfs.check(vfs.mkdir("/e", 0755));
        TestVfs.check(vfs.rename("/d/sub", "/e/sub"));
        assertEquals(Errno.ENOENT, Errno.fromResult(vfs.stat("/d/sub/x", new Stat())));
        assertEquals(3, vfs.readFile("/e/sub/x")[0]);
        assertEquals(3, vfs.readFile("/e/sub/../sub/x")[0]);
    }

    @Test
    void shouldWorkWithTheCacheDisabled() throws ErrnoException {
        final Vfs vfs = TestVfs.ramfsRoot(64, 0);
        TestVfs.check(vfs.mkdir("/d", 0755));
        vfs.writeFile("/d/f", new byte[]{9});
        assertEquals(9, vfs.readFile("/d/f")[0]);
        assertEquals(0, vfs.dentryCacheSize());
    }
}
