package dev.osvj.vfs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

import static dev.osvj.vfs.Posix.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Concurrency: readers of one file run in parallel (per-vnode read/write lock, unlike OSv's #450),
 * blocking I/O on one file does not hold up another, and a stress mix of readers, writers, renamers
 * and unlinkers keeps its invariants without deadlock.
 */
class ConcurrencyTest {
    private static final long BOUND_SECONDS = 120;

    @Test
    void shouldLetTwoReadersOfOneFileBeInsideReadAtOnce() throws Exception {
        final StaticFs fs = new StaticFs();
        fs.files.put("f", new byte[4096]);
        final Vfs vfs = StaticFs.mountedAt(fs, "/s");
        // Each reader waits inside the read VOP until the other is there too: with one lock per
        // vnode held across the read (OSv), the second reader could never arrive and the barrier breaks.
        final CyclicBarrier both = new CyclicBarrier(2);
        fs.readHook = vp -> both.await(BOUND_SECONDS, TimeUnit.SECONDS);
        final int fd1 = vfs.open("/s/f", O_RDONLY);
        final int fd2 = vfs.open("/s/f", O_RDONLY);
        final long[] got = new long[2];
        final Thread a = Thread.ofPlatform().start(() -> got[0] = vfs.pread(fd1, new byte[100], 0, 100, 0));
        final Thread b = Thread.ofPlatform().start(() -> got[1] = vfs.pread(fd2, new byte[100], 0, 100, 0));
        a.join(TimeUnit.SECONDS.toMillis(BOUND_SECONDS * 2));
        b.join(TimeUnit.SECONDS.toMillis(BOUND_SECONDS * 2));
        assertEquals(100, got[0]);
        assertEquals(100, got[1]);
    }

    @Test
    void shouldNotHoldUpOtherFilesWhileOneIsInBlockingIo() throws Exception {
        final StaticFs fs = new StaticFs();
        fs.files.put("slow", new byte[10]);
        fs.files.put("fast", new byte[10]);
        final Vfs vfs = StaticFs.mountedAt(fs, "/s");
        final CountDownLatch inSlow = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        fs.readHook = vp -> {
            if ("slow".equals(vp.data())) {
                inSlow.countDown();
                release.await(BOUND_SECONDS, TimeUnit.SECONDS);
            }
        };
        final int slow = vfs.open("/s/slow", O_RDONLY);
        final Thread t = Thread.ofPlatform().start(() -> vfs.read(slow, new byte[10], 0, 10));
        assertTrue(inSlow.await(BOUND_SECONDS, TimeUnit.SECONDS));
        // While the slow read blocks: other files, the directory, and stat of the slow file proceed.
        final int fast = vfs.open("/s/fast", O_RDONLY);
        assertEquals(10, vfs.read(fast, new byte[10], 0, 10));
        assertEquals(2, vfs.list("/s").size());
        assertEquals(0, vfs.stat("/s/slow", new Stat()));
        vfs.writeFile("/elsewhere", new byte[]{1});
        release.countDown();
        t.join(TimeUnit.SECONDS.toMillis(BOUND_SECONDS));
        assertFalse(t.isAlive());
    }

    /** One file a worker owns: its directory and its content byte. */
    private record Owned(int dir, byte fill) {
    }

    /** An unexpected throwable with its stack, so that a failure that shows up once in CI can be located. */
    private static String trace(final Throwable t) {
        final java.io.StringWriter w = new java.io.StringWriter();
        t.printStackTrace(new java.io.PrintWriter(w));
        return w.toString();
    }

    @Test
    void shouldKeepInvariantsUnderReadersWritersRenamersAndUnlinkers() throws Exception {
        final Vfs vfs = TestVfs.ramfsRoot(4096, 256);
        final int dirs = 4;
        final int workers = 4;
        final int ops = 1500;
        final int size = 1000;
        for (int d = 0; d < dirs; d++) {
            TestVfs.check(vfs.mkdir("/d" + d, 0755));
        }
        TestVfs.check(vfs.mkdir("/x", 0755));
        TestVfs.check(vfs.mkdir("/y", 0755));
        TestVfs.check(vfs.mkdir("/x/sub", 0755));
        final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        final List<Map<String, Owned>> owned = new ArrayList<>();
        final List<Thread> threads = new ArrayList<>();
        final CountDownLatch start = new CountDownLatch(1);
        for (int w = 0; w < workers; w++) {
            final int id = w;
            final Map<String, Owned> mine = new HashMap<>();
            owned.add(mine);
            threads.add(Thread.ofPlatform().unstarted(() -> {
                final Random rnd = new Random(42 + id);
                final byte[] buf = new byte[size * 2];
                try {
                    start.await();
                    for (int k = 0; k < ops; k++) {
                        final int op = rnd.nextInt(10);
                        final List<String> names = new ArrayList<>(mine.keySet());
                        if (op < 3 || names.isEmpty()) {
                            final String name = "w" + id + "-" + k;
                            final int d = rnd.nextInt(dirs);
                            final byte fill = (byte)rnd.nextInt(256);
                            final byte[] data = new byte[size];
                            java.util.Arrays.fill(data, fill);
                            // Write under a temporary name, then rename into place: readers never see
                            // a partial file under its final name.
                            vfs.writeFile("/d" + d + "/." + name, data);
                            check(failures, vfs.rename("/d" + d + "/." + name, "/d" + d + "/" + name), "publish " + name);
                            mine.put(name, new Owned(d, fill));
                        } else if (op < 5) {
                            final String name = names.get(rnd.nextInt(names.size()));
                            final Owned o = mine.get(name);
                            final int to = rnd.nextInt(dirs);
                            check(failures, vfs.rename("/d" + o.dir() + "/" + name, "/d" + to + "/" + name), "move " + name);
                            mine.put(name, new Owned(to, o.fill()));
                        } else if (op < 6) {
                            final String name = names.get(rnd.nextInt(names.size()));
                            check(failures, vfs.unlink("/d" + mine.get(name).dir() + "/" + name), "unlink " + name);
                            mine.remove(name);
                        } else {
                            // Read something anyone owns: complete and uniform, or gone (ENOENT).
                            final int d = rnd.nextInt(dirs);
                            final List<Dirent> list;
                            try {
                                list = vfs.list("/d" + d);
                            } catch (final ErrnoException e) {
                                failures.add("list: " + e);
                                continue;
                            }
                            if (list.isEmpty()) {
                                continue;
                            }
                            final Dirent pick = list.get(rnd.nextInt(list.size()));
                            if (pick.name().startsWith(".")) {
                                continue;
                            }
                            final int fd = vfs.open("/d" + d + "/" + pick.name(), O_RDONLY);
                            if (fd < 0) {
                                if (Errno.fromResult(fd) != Errno.ENOENT) {
                                    failures.add("open " + pick.name() + ": " + Errno.fromResult(fd));
                                }
                                continue;
                            }
                            final long n = vfs.pread(fd, buf, 0, buf.length, 0);
                            vfs.close(fd);
                            if (n != size) {
                                failures.add("size of " + pick.name() + " " + n);
                                continue;
                            }
                            for (int i = 1; i < size; i++) {
                                if (buf[i] != buf[0]) {
                                    failures.add("torn content in " + pick.name());
                                    break;
                                }
                            }
                        }
                    }
                } catch (final Throwable t) {
                    failures.add(id + ": " + trace(t));
                }
            }));
        }
        // A directory mover and a path walker through it exercise lock ordering across directories.
        final int moves = 2000;
        threads.add(Thread.ofPlatform().unstarted(() -> {
            try {
                start.await();
                for (int i = 0; i < moves; i++) {
                    final String from = i % 2 == 0 ? "/x/sub" : "/y/sub";
                    final String to = i % 2 == 0 ? "/y/sub" : "/x/sub";
                    check(failures, vfs.rename(from, to), "dir move " + i);
                    if (i % 3 == 0) {
                        check(failures, vfs.rename(to.substring(0, 2), "/d0/.tmpdir"), "parent move");
                        check(failures, vfs.rename("/d0/.tmpdir", to.substring(0, 2)), "parent back");
                    }
                }
            } catch (final Throwable t) {
                failures.add("mover: " + trace(t));
            }
        }));
        threads.add(Thread.ofPlatform().unstarted(() -> {
            try {
                start.await();
                for (int i = 0; i < moves; i++) {
                    final String path = (i % 2 == 0 ? "/x" : "/y") + "/sub/f" + i;
                    final int fd = vfs.open(path, O_CREAT | O_WRONLY, 0644);
                    if (fd >= 0) {
                        vfs.close(fd);
                        final int r = vfs.unlink(path);
                        if (r < 0 && Errno.fromResult(r) != Errno.ENOENT) {
                            failures.add("walker unlink " + Errno.fromResult(r));
                        }
                    } else if (Errno.fromResult(fd) != Errno.ENOENT) {
                        failures.add("walker open " + Errno.fromResult(fd));
                    }
                }
            } catch (final Throwable t) {
                failures.add("walker: " + trace(t));
            }
        }));
        threads.forEach(Thread::start);
        start.countDown();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_SECONDS);
        for (final Thread t : threads) {
            t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            assertFalse(t.isAlive(), "deadlock or livelock: " + t + " still running after " + BOUND_SECONDS + " s");
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));

        // No lost or extra files: the directories hold exactly what the workers think they own.
        final Set<String> expected = new HashSet<>();
        for (final Map<String, Owned> mine : owned) {
            mine.forEach((name, o) -> expected.add("/d" + o.dir() + "/" + name));
        }
        final Set<String> actual = new HashSet<>();
        for (int d = 0; d < dirs; d++) {
            for (final Dirent e : vfs.list("/d" + d)) {
                actual.add("/d" + d + "/" + e.name());
            }
        }
        assertEquals(expected, actual);
        for (final Map<String, Owned> mine : owned) {
            for (final Map.Entry<String, Owned> e : mine.entrySet()) {
                final byte[] data = vfs.readFile("/d" + e.getValue().dir() + "/" + e.getKey());
                assertEquals(size, data.length);
                assertEquals(e.getValue().fill(), data[size - 1]);
            }
        }
        assertEquals(1, vfs.list("/x").size() + vfs.list("/y").size(), "the moved directory exists exactly once");
        assertEquals(0, vfs.openDescriptors());
    }

    private static void check(final ConcurrentLinkedQueue<String> failures, final long r, final String what) {
        if (r < 0) {
            failures.add(what + ": " + Errno.fromResult(r));
        }
    }
}
