package dev.osvj.vfs;

import dev.osvj.kernel.Errno;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Permission bits for the one user (POSIX's owner/group/other checks for a non-root uid; root's
 * rules for uid 0), with the errno Linux gives an unprivileged process in each case.
 */
class PermissionTest {
    private static final int USER = 1000;
    private static final int GROUP = 1000;

    private Vfs vfs;

    private static int eacces() {
        return -Errno.EACCES.number();
    }

    private static int eperm() {
        return -Errno.EPERM.number();
    }

    private static long ok(final long r) {
        assertTrue(r >= 0, () -> "failed: " + Errno.fromResult(r));
        return r;
    }

    private void create(final String path, final int mode) {
        final int fd = (int)ok(vfs.open(path, Posix.O_CREAT | Posix.O_WRONLY, 0));
        ok(vfs.close(fd));
        ok(vfs.chmod(path, mode));
    }

    /** As root: /secret 0600, /private 0700 with a file, /pub 0755 with a file, /tmp a 1777 ramfs with root's file and directory. */
    @BeforeEach
    void setUp() {
        vfs = TestVfs.ramfsRoot();
        vfs.umask(0);
        create("/secret", 0600);
        ok(vfs.mkdir("/private", 0700));
        create("/private/x", 0644);
        ok(vfs.mkdir("/pub", 0755));
        create("/pub/rootfile", 0644);
        ok(vfs.mkdir("/tmp", 0755));
        ok(vfs.mount("ramfs", "none", "/tmp", Map.of("mode", "1777")));
        create("/tmp/shared", 0666);
        ok(vfs.mkdir("/tmp/rootdir", 0755));
        vfs.setCredentials(0, GROUP);
        create("/group-readable", 0640); // owned by root, group 1000
        vfs.setCredentials(USER, GROUP);
    }

    @Test
    void shouldCheckReadAndWriteOnOpen() {
        assertEquals(eacces(), vfs.open("/secret", Posix.O_RDONLY));
        assertEquals(eacces(), vfs.open("/pub/rootfile", Posix.O_WRONLY));
        assertEquals(eacces(), vfs.open("/pub/rootfile", Posix.O_RDONLY | Posix.O_TRUNC));
        ok(vfs.close((int)ok(vfs.open("/pub/rootfile", Posix.O_RDONLY))));
        ok(vfs.close((int)ok(vfs.open("/group-readable", Posix.O_RDONLY))));
        assertEquals(eacces(), vfs.open("/group-readable", Posix.O_RDWR));
        // O_PATH needs no permission on the file itself.
        ok(vfs.close((int)ok(vfs.open("/secret", Posix.O_PATH))));
        assertEquals(eacces(), vfs.truncate("/pub/rootfile", 0));
        assertEquals(0, vfs.access("/secret", Posix.F_OK));
        assertEquals(eacces(), vfs.access("/secret", Posix.R_OK));
        assertEquals(0, vfs.access("/group-readable", Posix.R_OK));
        assertEquals(eacces(), vfs.access("/group-readable", Posix.W_OK));
    }

    @Test
    void shouldNeedSearchPermissionOnEveryDirectory() throws Exception {
        final Stat st = new Stat();
        assertEquals(eacces(), vfs.stat("/private/x", st));
        assertEquals(eacces(), vfs.open("/private/x", Posix.O_RDONLY));
        assertEquals(eacces(), vfs.chdir("/private"));
        assertEquals(0, vfs.stat("/private", st), "the directory itself is visible");
        assertEquals(eacces(), vfs.open("/private", Posix.O_RDONLY | Posix.O_DIRECTORY));
        ok(vfs.close((int)ok(vfs.open("/pub", Posix.O_RDONLY | Posix.O_DIRECTORY))));
        assertEquals(1, vfs.list("/pub").size());
    }

    @Test
    void shouldNeedWriteAndSearchOnTheDirectoryToChangeNames() {
        assertEquals(eacces(), vfs.open("/pub/new", Posix.O_CREAT | Posix.O_WRONLY, 0644));
        assertEquals(eacces(), vfs.mkdir("/pub/dir", 0755));
        assertEquals(eacces(), vfs.unlink("/pub/rootfile"));
        assertEquals(eacces(), vfs.symlink("/secret", "/pub/link"));
        assertEquals(eacces(), vfs.link("/pub/rootfile", "/pub/hard"));
        // An existing name: EEXIST comes before the permission check, as Linux.
        assertEquals(-Errno.EEXIST.number(), vfs.mkdir("/pub/rootfile", 0755));
        // In the 1777 /tmp the user creates, owns, renames and removes its own files...
        final int fd = (int)ok(vfs.open("/tmp/mine", Posix.O_CREAT | Posix.O_RDWR, 0600));
        final Stat st = new Stat();
        ok(vfs.fstat(fd, st));
        assertEquals(USER, st.uid);
        assertEquals(GROUP, st.gid);
        ok(vfs.close(fd));
        ok(vfs.mkdir("/tmp/d", 0755));
        ok(vfs.rename("/tmp/mine", "/tmp/d/mine"));
        assertEquals(-Errno.EXDEV.number(), vfs.rename("/tmp/d/mine", "/pub/mine"));
        assertEquals(eacces(), vfs.rename("/tmp/d/mine", "/tmp/rootdir/mine"), "no write permission on the target directory");
        ok(vfs.unlink("/tmp/d/mine"));
        ok(vfs.rmdir("/tmp/d"));
        // ...but the sticky bit protects root's file, which it may still write (mode 0666).
        assertEquals(eperm(), vfs.unlink("/tmp/shared"));
        assertEquals(eperm(), vfs.rename("/tmp/shared", "/tmp/taken"));
        final int w = (int)ok(vfs.open("/tmp/shared", Posix.O_WRONLY));
        assertEquals(2, vfs.write(w, new byte[] {1, 2}, 0, 2));
        ok(vfs.close(w));
    }

    @Test
    void shouldLetOnlyTheOwnerChangeModeAndSetTimes() {
        assertEquals(eperm(), vfs.chmod("/pub/rootfile", 0777));
        assertEquals(eperm(), vfs.utimensat(Posix.AT_FDCWD, "/tmp/shared", 1, 0, 2, 0, 0));
        // "now" needs only write permission.
        assertEquals(0, vfs.utimensat(Posix.AT_FDCWD, "/tmp/shared", 0, Posix.UTIME_NOW, 0, Posix.UTIME_NOW, 0));
        assertEquals(eacces(), vfs.utimensat(Posix.AT_FDCWD, "/pub/rootfile", 0, Posix.UTIME_NOW, 0, Posix.UTIME_NOW, 0));
        ok(vfs.close((int)ok(vfs.open("/tmp/own", Posix.O_CREAT | Posix.O_WRONLY, 0644))));
        assertEquals(0, vfs.chmod("/tmp/own", 0400));
        assertEquals(eacces(), vfs.open("/tmp/own", Posix.O_WRONLY), "the owner's bits apply to the owner too");
        assertEquals(0, vfs.utimensat(Posix.AT_FDCWD, "/tmp/own", 1, 0, 2, 0, 0));
    }

    @Test
    void shouldKeepRootsRules() {
        vfs.setCredentials(0, 0);
        ok(vfs.close((int)ok(vfs.open("/secret", Posix.O_RDWR))));
        ok(vfs.chmod("/secret", 0));
        ok(vfs.close((int)ok(vfs.open("/secret", Posix.O_RDWR))));
        assertEquals(eacces(), vfs.access("/secret", Posix.X_OK), "execute needs an x bit even for root");
        assertEquals(0, vfs.access("/private", Posix.X_OK | Posix.W_OK));
        ok(vfs.unlink("/tmp/shared"));
    }
}
