package dev.osvj.vfs;

import dev.osvj.vfs.blk.MappedFileBlockDevice;
import dev.osvj.vfs.pseudo.DevFs;
import dev.osvj.vfs.rofs.MkImage;
import dev.osvj.vfs.rofs.RofsFs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * rofs runs the filesystem contract: the tree is built on the host, turned into an image by
 * {@link MkImage}, attached as /dev/vblk0 (a memory-mapped host file) and mounted at /m.
 */
class RofsContractTest extends FileSystemContract {
    @TempDir
    Path dir;
    private MappedFileBlockDevice disk;

    @Override
    Vfs mountWithTree() throws Exception {
        final Path src = Files.createDirectories(dir.resolve("src"));
        ContractTree.writeHost(src, M);
        final Path image = dir.resolve("contract.img");
        MkImage.build(src, image, (d, t) -> {
        });
        disk = MappedFileBlockDevice.open("vblk0", image, true);
        final Vfs v = TestVfs.ramfsRoot();
        final DevFs devfs = new DevFs();
        devfs.attach(disk);
        v.registerFileSystem(devfs);
        v.registerFileSystem(new RofsFs(devfs::blockDevice, 1 << 20));
        TestVfs.check(v.mkdir("/dev", 0755));
        TestVfs.check(v.mount("devfs", "none", "/dev", Map.of()));
        TestVfs.check(v.mkdir(M, 0755));
        TestVfs.check(v.mount("rofs", "/dev/vblk0", M, Map.of()));
        return v;
    }

    @AfterEach
    void closeDisk() {
        if (disk != null) {
            disk.close();
        }
    }

    @Override
    boolean writable() {
        return false;
    }
}
