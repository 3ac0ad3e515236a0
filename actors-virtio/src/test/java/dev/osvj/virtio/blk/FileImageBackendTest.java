package dev.osvj.virtio.blk;

import java.nio.file.Path;

/** The block-device contract for the host file image backend itself. */
class FileImageBackendTest extends BlockDeviceContract {
    @Override
    protected BlockDevice open(final Path image, final boolean readOnly) throws Exception {
        return FileImageBackend.open("img", image, readOnly);
    }
}
