package dev.osvj.vfs;

import java.util.Map;

/** ramfs runs the filesystem contract (mounted at /m, below the ramfs root). */
class RamFsContractTest extends FileSystemContract {
    @Override
    Vfs mountWithTree() throws Exception {
        final Vfs v = TestVfs.ramfsRoot();
        TestVfs.check(v.mkdir(M, 0755));
        TestVfs.check(v.mount("ramfs", "none", M, Map.of("size", "64M")));
        ContractTree.writeVfs(v, M);
        return v;
    }

    @Override
    boolean writable() {
        return true;
    }
}
