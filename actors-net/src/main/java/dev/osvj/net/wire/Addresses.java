package dev.osvj.net.wire;

/**
 * Text forms of the primitive addresses used on the data path: IPv4 addresses as {@code int}
 * (network byte order value: 10.0.2.15 is {@code 0x0A00020F}) and MAC addresses as the low 48 bits of
 * a {@code long} (02:00:00:00:00:01 is {@code 0x020000000001L}). Only the control path (configuration,
 * console, logs) converts to and from text.
 */
public final class Addresses {
    /** The broadcast MAC ff:ff:ff:ff:ff:ff. */
    public static final long MAC_BROADCAST = 0xFFFF_FFFF_FFFFL;
    /** 255.255.255.255, the limited broadcast address. */
    public static final int IP_BROADCAST = 0xFFFF_FFFF;

    private Addresses() {
    }

    /** Parse dotted-quad IPv4; throws IllegalArgumentException on anything else (control path only). */
    public static int parseIpv4(final String text) {
        final String[] parts = text.trim().split("\\.", -1);
        if (parts.length != 4) {
            throw new IllegalArgumentException("not an IPv4 address: " + text);
        }
        int ip = 0;
        for (final String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit)) {
                throw new IllegalArgumentException("not an IPv4 address: " + text);
            }
            final int v = Integer.parseInt(p);
            if (v > 255) {
                throw new IllegalArgumentException("not an IPv4 address: " + text);
            }
            ip = (ip << 8) | v;
        }
        return ip;
    }

    public static String ipv4(final int ip) {
        return (ip >>> 24) + "." + ((ip >>> 16) & 0xFF) + "." + ((ip >>> 8) & 0xFF) + "." + (ip & 0xFF);
    }

    /** Parse {@code aa:bb:cc:dd:ee:ff} (or with '-'); throws IllegalArgumentException otherwise. */
    public static long parseMac(final String text) {
        final String[] parts = text.trim().split("[:-]", -1);
        if (parts.length != 6) {
            throw new IllegalArgumentException("not a MAC address: " + text);
        }
        long mac = 0;
        for (final String p : parts) {
            if (p.length() != 2) {
                throw new IllegalArgumentException("not a MAC address: " + text);
            }
            mac = (mac << 8) | Integer.parseInt(p, 16);
        }
        return mac;
    }

    public static String mac(final long mac) {
        final StringBuilder sb = new StringBuilder(17);
        for (int i = 5; i >= 0; i--) {
            final int b = (int)(mac >>> (i * 8)) & 0xFF;
            sb.append(Character.forDigit(b >>> 4, 16)).append(Character.forDigit(b & 0xF, 16));
            if (i > 0) {
                sb.append(':');
            }
        }
        return sb.toString();
    }

    /** Prefix length of a contiguous netmask, or -1 when the mask is not contiguous. */
    public static int prefixLength(final int netmask) {
        final int len = Integer.bitCount(netmask);
        return netmask == (len == 0 ? 0 : -1 << (32 - len)) ? len : -1;
    }

    /** The netmask of a prefix length 0..32. */
    public static int netmask(final int prefixLength) {
        return prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
    }
}
