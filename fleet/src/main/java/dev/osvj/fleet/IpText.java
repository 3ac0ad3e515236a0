package dev.osvj.fleet;

/** IPv4 addresses as ints (network byte order in the int's bit order: a.b.c.d = a<<24|b<<16|c<<8|d). */
final class IpText {
    private IpText() {
    }

    static String format(final int address) {
        return (address >>> 24) + "." + (address >>> 16 & 0xff) + "." + (address >>> 8 & 0xff) + "." + (address & 0xff);
    }
}
