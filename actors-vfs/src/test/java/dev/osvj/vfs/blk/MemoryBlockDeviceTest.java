package dev.osvj.vfs.blk;

class MemoryBlockDeviceTest extends BlockDeviceContract {
    @Override
    protected BlockDevice writable(final long sectors) {
        return new MemoryBlockDevice("mem0", new byte[(int)sectors * 512], false);
    }

    @Override
    protected BlockDevice readOnly(final byte[] content) {
        return new MemoryBlockDevice("mem0", content, true);
    }
}
