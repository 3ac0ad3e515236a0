package dev.osvj.net.wire;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import static dev.osvj.net.wire.WireTestSupport.a5;
import static dev.osvj.net.wire.WireTestSupport.bytes;
import static dev.osvj.net.wire.WireTestSupport.slice;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Literal-byte tests for every header (packets from smoltcp's test vectors and RFC examples). */
class WireFormatTest {
    private static final int IP_192_168_1_1 = 0xC0A80101;
    private static final int IP_192_168_1_2 = 0xC0A80102;

    // Ethernet + ARP request: who-has 10.0.2.2 tell 10.0.2.15
    private static final UnsafeBuffer ARP_REQUEST = bytes(
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06,
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x0a, 0x00, 0x02, 0x0f,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x02, 0x02);

    @Test
    void shouldParseAndEmitEthernetAndArp() {
        final EthernetFrame eth = new EthernetFrame();
        assertTrue(eth.wrap(ARP_REQUEST, 0, ARP_REQUEST.capacity()));
        assertEquals(Addresses.MAC_BROADCAST, eth.destination());
        assertEquals(0x525400123456L, eth.source());
        assertEquals(EthernetFrame.TYPE_ARP, eth.etherType());
        final ArpPacket arp = new ArpPacket();
        assertTrue(arp.wrap(ARP_REQUEST, eth.payloadOffset(), eth.payloadLength()));
        assertEquals(ArpPacket.OP_REQUEST, arp.operation());
        assertEquals(0x525400123456L, arp.senderMac());
        assertEquals(Addresses.parseIpv4("10.0.2.15"), arp.senderIp());
        assertEquals(0L, arp.targetMac());
        assertEquals(Addresses.parseIpv4("10.0.2.2"), arp.targetIp());

        final UnsafeBuffer out = a5(42);
        final int p = EthernetFrame.emit(out, 0, Addresses.MAC_BROADCAST, 0x525400123456L, EthernetFrame.TYPE_ARP);
        assertEquals(42, p + ArpPacket.emit(out, p, ArpPacket.OP_REQUEST, 0x525400123456L,
            Addresses.parseIpv4("10.0.2.15"), 0, Addresses.parseIpv4("10.0.2.2")));
        assertArrayEquals(slice(ARP_REQUEST, 0, 42), slice(out, 0, 42));
    }

    @Test
    void shouldRejectShortOrForeignArp() {
        final ArpPacket arp = new ArpPacket();
        assertFalse(arp.wrap(ARP_REQUEST, 14, 27));
        final UnsafeBuffer bad = bytes(0x00, 0x06, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        assertFalse(arp.wrap(bad, 0, 28), "htype 6 (IEEE 802) is not accepted");
        final UnsafeBuffer badOp = bytes(0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        assertFalse(arp.wrap(badOp, 0, 28), "unknown operation");
        assertFalse(new EthernetFrame().wrap(ARP_REQUEST, 0, 13));
    }

    // smoltcp's IPv4 test vector: id 0x0102, DF+MF, offset 0x203*8, ttl 0x1a, ICMP, checksum 0xd56e.
    private static final UnsafeBuffer IPV4 = bytes(
        0x45, 0x00, 0x00, 0x1e, 0x01, 0x02, 0x62, 0x03, 0x1a, 0x01, 0xd5, 0x6e,
        0x11, 0x12, 0x13, 0x14, 0x21, 0x22, 0x23, 0x24,
        0xaa, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff);

    @Test
    void shouldParseAndEmitIpv4() {
        final Ipv4Packet ip = new Ipv4Packet();
        assertTrue(ip.wrap(IPV4, 0, IPV4.capacity()));
        assertTrue(ip.checksumValid());
        assertEquals(20, ip.headerLength());
        assertEquals(30, ip.totalLength());
        assertEquals(0x0102, ip.identification());
        assertTrue(ip.dontFragment());
        assertTrue(ip.moreFragments());
        assertTrue(ip.isFragment());
        assertEquals(0x203 * 8, ip.fragmentOffset());
        assertEquals(0x1a, ip.ttl());
        assertEquals(Ipv4Packet.PROTO_ICMP, ip.protocol());
        assertEquals(0xd56e, ip.checksum());
        assertEquals(0x11121314, ip.source());
        assertEquals(0x21222324, ip.destination());
        assertEquals(10, ip.payloadLength());

        final UnsafeBuffer out = a5(30);
        final int p = Ipv4Packet.emit(out, 0, 0, 10, 0x0102, 0x6203, 0x1a, 1, 0x11121314, 0x21222324);
        assertEquals(20, p);
        assertArrayEquals(slice(IPV4, 0, 20), slice(out, 0, 20));
    }

    @Test
    void shouldRejectMalformedIpv4() {
        final Ipv4Packet ip = new Ipv4Packet();
        final byte[] b = slice(IPV4, 0, 30);
        b[0] = 0x65; // version 6
        assertFalse(ip.wrap(new UnsafeBuffer(b), 0, 30));
        b[0] = 0x44; // IHL 4
        assertFalse(ip.wrap(new UnsafeBuffer(b), 0, 30));
        b[0] = 0x45;
        b[3] = 40; // total length beyond the frame
        assertFalse(ip.wrap(new UnsafeBuffer(b), 0, 30));
        b[3] = 0x1e;
        b[10] = 0; // bad checksum: wraps, but checksumValid() is false
        assertTrue(ip.wrap(new UnsafeBuffer(b), 0, 30));
        assertFalse(ip.checksumValid());
        assertFalse(ip.wrap(new UnsafeBuffer(b), 0, 19));
    }

    @Test
    void shouldAcceptWellFormedOptionsAndRejectOverrunningOnes() {
        // IHL 7: NOP, router alert (94 04 00 00), NOP, EOL, pad
        final UnsafeBuffer withOptions = bytes(
            0x47, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
            0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
            0x01, 0x94, 0x04, 0x00, 0x00, 0x01, 0x00, 0x00);
        final Ipv4Packet ip = new Ipv4Packet();
        assertTrue(ip.wrap(withOptions, 0, 28));
        assertEquals(28, ip.headerLength());
        assertEquals(0, ip.payloadLength());
        withOptions.putByte(22, (byte)0x09); // router alert claims 9 bytes: runs past the header
        assertFalse(ip.wrap(withOptions, 0, 28));
        withOptions.putByte(22, (byte)0x01); // length 1 is illegal
        assertFalse(ip.wrap(withOptions, 0, 28));
    }

    // smoltcp's ICMPv4 echo request: ident 0x1234, seq 0xabcd, payload aa 00 00 ff.
    private static final UnsafeBuffer ECHO = bytes(0x08, 0x00, 0x8e, 0xfe, 0x12, 0x34, 0xab, 0xcd, 0xaa, 0x00, 0x00, 0xff);

    @Test
    void shouldParseAndEmitIcmpEcho() {
        final IcmpPacket icmp = new IcmpPacket();
        assertTrue(icmp.wrap(ECHO, 0, 12));
        assertTrue(icmp.checksumValid());
        assertEquals(IcmpPacket.TYPE_ECHO_REQUEST, icmp.type());
        assertEquals(0, icmp.code());
        assertEquals(0x8efe, icmp.checksum());
        assertEquals(0x1234, icmp.identifier());
        assertEquals(0xabcd, icmp.sequence());
        assertEquals(4, icmp.dataLength());

        final UnsafeBuffer out = a5(12);
        out.putBytes(8, ECHO, 8, 4);
        assertEquals(12, IcmpPacket.emit(out, 0, 8, 0, 0x1234abcd, 4));
        assertArrayEquals(slice(ECHO, 0, 12), slice(out, 0, 12));
        assertFalse(icmp.wrap(ECHO, 0, 7));
    }

    // smoltcp's UDP vector: 48896 -> 53, length 12, checksum 0x124d (192.168.1.1 -> 192.168.1.2).
    private static final UnsafeBuffer UDP = bytes(0xbf, 0x00, 0x00, 0x35, 0x00, 0x0c, 0x12, 0x4d, 0xaa, 0x00, 0x00, 0xff);

    @Test
    void shouldParseAndEmitUdp() {
        final UdpDatagram udp = new UdpDatagram();
        assertTrue(udp.wrap(UDP, 0, 12));
        assertEquals(48896, udp.sourcePort());
        assertEquals(53, udp.destinationPort());
        assertEquals(12, udp.datagramLength());
        assertEquals(0x124d, udp.checksum());
        assertTrue(udp.checksumValid(IP_192_168_1_1, IP_192_168_1_2));
        assertFalse(udp.checksumValid(IP_192_168_1_1, IP_192_168_1_1));

        final UnsafeBuffer out = a5(12);
        out.putBytes(8, UDP, 8, 4);
        assertEquals(12, UdpDatagram.emit(out, 0, 48896, 53, 4, IP_192_168_1_1, IP_192_168_1_2));
        assertArrayEquals(slice(UDP, 0, 12), slice(out, 0, 12));
    }

    @Test
    void shouldRejectUdpLengthOutsideThePacket() {
        final UdpDatagram udp = new UdpDatagram();
        final byte[] b = slice(UDP, 0, 12);
        b[5] = 13;
        assertFalse(udp.wrap(new UnsafeBuffer(b), 0, 12));
        b[5] = 7;
        assertFalse(udp.wrap(new UnsafeBuffer(b), 0, 12));
        b[5] = 0x0c;
        b[6] = 0;
        b[7] = 0;
        assertTrue(udp.wrap(new UnsafeBuffer(b), 0, 12));
        assertTrue(udp.checksumValid(1, 2), "checksum 0 means none");
    }

    // smoltcp's TCP vector: 48896 -> 80, seq 0x01234567, ack 0x89abcdef, header 24, FIN RST ACK URG,
    // window 0x0123, checksum 0x01b6, urgent 0x0201, option WS 12 (03 03 0c) + NOP, payload aa 00 00 ff.
    private static final UnsafeBuffer TCP = bytes(
        0xbf, 0x00, 0x00, 0x50, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
        0x60, 0x35, 0x01, 0x23, 0x01, 0xb6, 0x02, 0x01, 0x03, 0x03, 0x0c, 0x01,
        0xaa, 0x00, 0x00, 0xff);

    @Test
    void shouldParseTcpHeaderAndOptions() {
        final TcpSegment tcp = new TcpSegment();
        assertTrue(tcp.wrap(TCP, 0, 28));
        assertTrue(tcp.checksumValid(IP_192_168_1_1, IP_192_168_1_2));
        assertEquals(48896, tcp.sourcePort());
        assertEquals(80, tcp.destinationPort());
        assertEquals(0x01234567, tcp.sequence());
        assertEquals(0x89abcdef, tcp.acknowledgment());
        assertEquals(24, tcp.headerLength());
        assertEquals(TcpSegment.FIN | TcpSegment.RST | TcpSegment.ACK | TcpSegment.URG, tcp.flags());
        assertEquals(0x0123, tcp.window());
        assertEquals(0x0201, tcp.urgentPointer());
        assertEquals(4, tcp.payloadLength());
        final TcpRepr repr = new TcpRepr();
        assertTrue(repr.parse(tcp));
        assertEquals(12, repr.options.windowShift);
        assertEquals(-1, repr.options.mss);
        assertEquals(4, repr.segmentLength() - 1, "FIN takes one sequence number");
    }

    @Test
    void shouldEmitTcpWithTheSameChecksumAsTheVector() {
        final TcpRepr repr = new TcpRepr();
        repr.srcPort = 48896;
        repr.dstPort = 80;
        repr.seq = 0x01234567;
        repr.ack = 0x89abcdef;
        repr.flags = TcpSegment.FIN | TcpSegment.RST | TcpSegment.ACK | TcpSegment.URG;
        repr.window = 0x0123;
        repr.urgent = 0x0201;
        repr.payload = TCP;
        repr.payloadOffset = 24;
        repr.payloadLength = 4;
        repr.options.windowShift = 12;
        final UnsafeBuffer out = a5(28);
        assertEquals(28, repr.emit(out, 0, IP_192_168_1_1, IP_192_168_1_2));
        // our WS option is NOP-first (01 03 03 0c): the checksum follows from the vector's by the
        // RFC 1624 incremental update HC' = ~(~HC + ~m + m') over the two changed 16-bit words.
        final byte[] expected = slice(TCP, 0, 28);
        final int hc = 0x01b6;
        long s = (~hc & 0xFFFF) + (~0x0303 & 0xFFFF) + (~0x0c01 & 0xFFFF) + 0x0103 + 0x030c;
        while ((s >>> 16) != 0) {
            s = (s & 0xFFFF) + (s >>> 16);
        }
        final int updated = (int)(~s & 0xFFFF);
        expected[16] = (byte)(updated >>> 8);
        expected[17] = (byte)updated;
        expected[20] = 0x01;
        expected[21] = 0x03;
        expected[22] = 0x03;
        expected[23] = 0x0c;
        assertArrayEquals(expected, slice(out, 0, 28));
    }

    @Test
    void shouldRoundTripSynOptions() {
        final TcpRepr repr = new TcpRepr();
        repr.srcPort = 1;
        repr.dstPort = 2;
        repr.seq = -1;
        repr.flags = TcpSegment.SYN;
        repr.window = 65535;
        repr.options.mss = 1460;
        repr.options.windowShift = 7;
        repr.options.sackPermitted = true;
        repr.options.hasTimestamp = true;
        repr.options.tsVal = 0xdeadbeef;
        repr.options.tsEcr = 0;
        final UnsafeBuffer out = a5(64);
        final int len = repr.emit(out, 0, 1, 2);
        assertEquals(44, len);
        assertArrayEquals(new byte[] {0x02, 0x04, 0x05, (byte)0xb4, 0x01, 0x03, 0x03, 0x07, 0x01, 0x01, 0x04, 0x02,
            0x01, 0x01, 0x08, 0x0a, (byte)0xde, (byte)0xad, (byte)0xbe, (byte)0xef, 0, 0, 0, 0}, slice(out, 20, 24));
        final TcpSegment seg = new TcpSegment();
        assertTrue(seg.wrap(out, 0, len));
        assertTrue(seg.checksumValid(1, 2));
        final TcpRepr back = new TcpRepr();
        assertTrue(back.parse(seg));
        assertEquals(1460, back.options.mss);
        assertEquals(7, back.options.windowShift);
        assertTrue(back.options.sackPermitted);
        assertEquals(0xdeadbeef, back.options.tsVal);
        assertEquals(-1, back.seq);
    }

    @Test
    void shouldCutSackBlocksToFitFortyBytes() {
        final TcpOptions o = new TcpOptions();
        o.hasTimestamp = true;
        for (int i = 0; i < 4; i++) {
            o.addSack(i * 100, i * 100 + 50);
        }
        assertEquals(12 + 4 + 3 * 8, o.emittedLength());
        final UnsafeBuffer out = a5(40);
        assertEquals(40, o.emit(out, 0));
        final TcpOptions back = new TcpOptions();
        assertTrue(back.parse(out, 0, 40));
        assertEquals(3, back.sackCount);
        assertEquals(200, back.sackLeft[2]);
        assertEquals(250, back.sackRight[2]);
    }

    @Test
    void shouldRejectMalformedTcpOptions() {
        final TcpOptions o = new TcpOptions();
        assertFalse(o.parse(bytes(0x02, 0x05, 0x05, 0xb4, 0x00), 0, 5), "MSS with length 5");
        assertFalse(o.parse(bytes(0x08, 0x0a, 0x00, 0x00), 0, 4), "timestamp running past the end");
        assertFalse(o.parse(bytes(0x1e, 0x00, 0x00, 0x00), 0, 4), "length 0");
        assertFalse(o.parse(bytes(0x01, 0x05), 0, 2), "kind without length byte");
        assertFalse(o.parse(bytes(0x05, 0x03, 0x00, 0x00), 0, 4), "SACK length not 2+8n");
        assertTrue(o.parse(bytes(0x03, 0x03, 0x20, 0x00), 0, 4), "shift 32 is accepted and clamped");
        assertEquals(14, o.windowShift);
        assertTrue(o.parse(bytes(0xfe, 0x04, 0x12, 0x34, 0x00, 0x99), 0, 6), "unknown option skipped, EOL stops");
        final TcpSegment s = new TcpSegment();
        final byte[] b = slice(TCP, 0, 28);
        b[12] = 0x40; // data offset 4
        assertFalse(s.wrap(new UnsafeBuffer(b), 0, 28));
        b[12] = (byte)0xf0; // 60 bytes > 28
        assertFalse(s.wrap(new UnsafeBuffer(b), 0, 28));
    }

    @Test
    void shouldComputeChecksumOfOddLengthAndRfc1071Example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2 (folded).
        assertEquals(0xddf2, Checksum.fold(Checksum.sum(bytes(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7), 0, 8)));
        assertEquals(0xab00, Checksum.fold(Checksum.sum(bytes(0xab), 0, 1)));
    }

    @Test
    void shouldSumEightBytesAtATimeAsRfc1071SumsSixteenBitWords() {
        final java.util.SplittableRandom random = new java.util.SplittableRandom(1071);
        final byte[] data = new byte[3000];
        for (int round = 0; round < 2000; round++) {
            random.nextBytes(data);
            if (round % 7 == 0) {
                java.util.Arrays.fill(data, (byte)0xFF); // carries in every word
            }
            final int off = random.nextInt(64);
            final int len = round < 64 ? round : random.nextInt(data.length - off);
            long reference = 0; // the RFC's loop: big-endian 16-bit words, odd byte padded
            for (int i = 0; i < len; i += 2) {
                reference += ((data[off + i] & 0xFF) << 8) | (i + 1 < len ? data[off + i + 1] & 0xFF : 0);
            }
            assertEquals(Checksum.fold(reference), Checksum.fold(Checksum.sum(new UnsafeBuffer(data), off, len)),
                "offset " + off + ", length " + len);
        }
    }

    @Test
    void shouldFormatAndParseAddresses() {
        assertEquals("10.0.2.15", Addresses.ipv4(0x0A00020F));
        assertEquals(0xFFFFFF00, Addresses.parseIpv4("255.255.255.0"));
        assertEquals("52:54:00:12:34:56", Addresses.mac(0x525400123456L));
        assertEquals(0x525400123456L, Addresses.parseMac("52:54:00:12:34:56"));
        assertEquals(24, Addresses.prefixLength(0xFFFFFF00));
        assertEquals(-1, Addresses.prefixLength(0xFF00FF00));
        assertEquals(0, Addresses.prefixLength(0));
    }
}
