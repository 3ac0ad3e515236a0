package dev.osvj.virtio;

/**
 * Device-independent feature bits (virtio 1.x, "Reserved Feature Bits") and helpers for 64-bit feature
 * words. Device-specific bits live with their device ({@code VirtioBlk}, {@code VirtioNet}).
 */
public final class VirtioFeatures {
    /** The driver may use descriptors with VIRTQ_DESC_F_INDIRECT. */
    public static final int INDIRECT_DESC = 28;
    /** used_event / avail_event notification suppression. */
    public static final int EVENT_IDX = 29;
    /** A virtio 1.x (non-legacy) device: little-endian rings, 12-byte net header. Mandatory here. */
    public static final int VERSION_1 = 32;

    private VirtioFeatures() {
    }

    public static long bit(final int feature) {
        return 1L << feature;
    }

    public static boolean has(final long features, final int feature) {
        return (features & bit(feature)) != 0;
    }

    /** "INDIRECT_DESC EVENT_IDX VERSION_1 bit5 ..." using {@code names} for known device bits. */
    public static String describe(final long features, final java.util.function.IntFunction<String> names) {
        final StringBuilder b = new StringBuilder();
        for (int i = 0; i < 64; i++) {
            if (has(features, i)) {
                final String n = switch (i) {
                    case INDIRECT_DESC -> "INDIRECT_DESC";
                    case EVENT_IDX -> "EVENT_IDX";
                    case VERSION_1 -> "VERSION_1";
                    default -> names.apply(i);
                };
                if (!b.isEmpty()) {
                    b.append(' ');
                }
                b.append(n != null ? n : "bit" + i);
            }
        }
        return b.toString();
    }
}
