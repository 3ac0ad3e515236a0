package dev.osvj.virtio;

/** Virtio device IDs (virtio 1.x, "Device Types") of the devices osvj implements. */
public enum DeviceType {
    NET(1, "virtio-net"),
    BLOCK(2, "virtio-blk"),
    ENTROPY(4, "virtio-rng"),
    FS(26, "virtio-fs");

    private final int id;
    private final String label;

    DeviceType(final int id, final String label) {
        this.id = id;
        this.label = label;
    }

    public int id() {
        return id;
    }

    public String label() {
        return label;
    }
}
