package dev.osvj.vfs;

import dev.osvj.kernel.KernelClock;
import dev.osvj.vfs.ramfs.RamFs;

import java.util.Map;

/** A VFS with ramfs at the root, for tests. */
final class TestVfs {
    private TestVfs() {
    }

    static Vfs ramfsRoot() {
        return ramfsRoot(1024, 4096);
    }

    static Vfs ramfsRoot(final int maxFds, final int dentries) {
        final Vfs vfs = new Vfs(maxFds, dentries, KernelClock.SYSTEM);
        vfs.registerFileSystem(new RamFs());
        check(vfs.mount("ramfs", "none", "/", Map.of()));
        return vfs;
    }

    static long check(final long r) {
        if (r < 0) {
            throw new AssertionError("call failed: " + dev.osvj.kernel.Errno.fromResult(r));
        }
        return r;
    }
}
