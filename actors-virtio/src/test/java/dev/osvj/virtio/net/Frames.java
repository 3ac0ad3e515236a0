package dev.osvj.virtio.net;

import java.nio.ByteBuffer;

/** Test helper: builds and picks apart the few Ethernet frames the transport tests exchange. */
final class Frames {
    static final byte[] BROADCAST = {-1, -1, -1, -1, -1, -1};
    static final int ETH_ARP = 0x0806;
    static final int ETH_IPV4 = 0x0800;

    private Frames() {
    }

    static int u16(final byte[] f, final int at) {
        return (f[at] & 0xff) << 8 | f[at + 1] & 0xff;
    }

    static int etherType(final byte[] f) {
        return u16(f, 12);
    }

    static byte[] ip(final int a, final int b, final int c, final int d) {
        return new byte[] {(byte)a, (byte)b, (byte)c, (byte)d};
    }

    static int checksum(final byte[] b, final int off, final int len) {
        long sum = 0;
        for (int i = 0; i < len; i += 2) {
            sum += (b[off + i] & 0xff) << 8 | (i + 1 < len ? b[off + i + 1] & 0xff : 0);
        }
        while (sum >> 16 != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return (int)~sum & 0xffff;
    }

    static ByteBuffer ethernet(final byte[] dst, final byte[] src, final int type, final int payload) {
        final ByteBuffer f = ByteBuffer.allocate(14 + payload);
        f.put(dst).put(src).putShort((short)type);
        return f;
    }

    /** ARP request (op 1) or reply (op 2). */
    static byte[] arp(final int op, final byte[] srcMac, final byte[] srcIp, final byte[] dstMac, final byte[] dstIp) {
        final ByteBuffer f = ethernet(op == 1 ? BROADCAST : dstMac, srcMac, ETH_ARP, 28);
        f.putShort((short)1).putShort((short)ETH_IPV4).put((byte)6).put((byte)4).putShort((short)op)
            .put(srcMac).put(srcIp).put(op == 1 ? new byte[6] : dstMac).put(dstIp);
        return f.array();
    }

    /** An IPv4 frame carrying {@code l4} (protocol {@code proto}) with a correct header checksum. */
    static byte[] ipv4(final byte[] dstMac, final byte[] srcMac, final byte[] src, final byte[] dst, final int proto,
        final byte[] l4) {
        final ByteBuffer f = ethernet(dstMac, srcMac, ETH_IPV4, 20 + l4.length);
        final byte[] a = f.array();
        f.put((byte)0x45).put((byte)0).putShort((short)(20 + l4.length)).putShort((short)0x1234).putShort((short)0x4000)
            .put((byte)64).put((byte)proto).putShort((short)0).put(src).put(dst);
        final int csum = checksum(a, 14, 20);
        a[24] = (byte)(csum >> 8);
        a[25] = (byte)csum;
        f.put(l4);
        return a;
    }

    static byte[] icmpEcho(final int type, final int id, final int seq, final byte[] data) {
        final byte[] m = new byte[8 + data.length];
        m[0] = (byte)type;
        m[4] = (byte)(id >> 8);
        m[5] = (byte)id;
        m[6] = (byte)(seq >> 8);
        m[7] = (byte)seq;
        System.arraycopy(data, 0, m, 8, data.length);
        final int csum = checksum(m, 0, m.length);
        m[2] = (byte)(csum >> 8);
        m[3] = (byte)csum;
        return m;
    }

    /** UDP with checksum 0 (allowed over IPv4). */
    static byte[] udp(final int srcPort, final int dstPort, final byte[] data) {
        final ByteBuffer u = ByteBuffer.allocate(8 + data.length);
        u.putShort((short)srcPort).putShort((short)dstPort).putShort((short)(8 + data.length)).putShort((short)0).put(data);
        return u.array();
    }

    /** A BOOTP/DHCP DISCOVER from {@code mac} (xid 0x0badcafe). */
    static byte[] dhcpDiscover(final byte[] mac) {
        final ByteBuffer d = ByteBuffer.allocate(300);
        d.put((byte)1).put((byte)1).put((byte)6).put((byte)0).putInt(0x0badcafe).putShort((short)0).putShort((short)0x8000);
        d.put(new byte[16]); // ciaddr yiaddr siaddr giaddr
        d.put(mac).put(new byte[10]).put(new byte[64]).put(new byte[128]);
        d.putInt(0x63825363); // magic cookie
        d.put(new byte[] {53, 1, 1}); // DHCP message type DISCOVER
        d.put(new byte[] {55, 3, 1, 3, 6}); // parameter request: netmask, router, dns
        d.put((byte)255);
        return udp(68, 67, d.array());
    }
}
