package dev.osvj.net.dhcp;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** DHCP messages on literal bytes: parse a server's OFFER, emit a client's DISCOVER and REQUEST. */
class DhcpMessageTest {
    private static final HexFormat HEX = HexFormat.of();
    /** sname + file: 192 zero bytes. */
    private static final String ZEROS_192 = "00".repeat(192);

    /** A DHCPOFFER as passt sends it: 10.0.2.15/24, router and server 10.0.2.2, DNS 10.0.2.3, 3600 s. */
    static final byte[] OFFER = HEX.parseHex(
        "02010600" + "0badcafe" + "0000" + "0000"
            + "00000000" + "0a00020f" + "00000000" + "00000000"
            + "525400123456" + "00000000000000000000"
            + ZEROS_192
            + "63825363"
            + "350102"                 // 53 message type: OFFER
            + "0104ffffff00"           // 1 subnet mask
            + "03040a000202"           // 3 router
            + "330400000e10"           // 51 lease time 3600
            + "36040a000202"           // 54 server identifier
            + "06080a0002030a000204"   // 6 two DNS servers (we keep the first)
            + "0000"                   // pads
            + "ff");

    @Test
    void shouldParseALiteralOffer() {
        final DhcpMessage m = new DhcpMessage();
        assertTrue(m.parse(new UnsafeBuffer(OFFER), 0, OFFER.length));
        assertEquals(DhcpMessage.OP_REPLY, m.op);
        assertEquals(0x0badcafe, m.xid);
        assertEquals(DhcpMessage.OFFER, m.messageType);
        assertEquals(0x0A00020F, m.yiaddr);
        assertEquals(0x525400123456L, m.chaddr);
        assertEquals(0xFFFFFF00, m.subnetMask);
        assertEquals(0x0A000202, m.router);
        assertEquals(0x0A000202, m.serverId);
        assertEquals(0x0A000203, m.dns);
        assertEquals(3600, m.leaseSeconds);
        assertEquals(-1, m.renewSeconds);
    }

    @Test
    void shouldRejectTruncatedOrForeignMessages() {
        final DhcpMessage m = new DhcpMessage();
        // no end option within the bytes
        assertFalse(m.parse(new UnsafeBuffer(OFFER), 0, OFFER.length - 1));
        // an option whose length runs past the end
        final byte[] cut = Arrays.copyOf(OFFER, 240 + 3 + 2);
        cut[244] = 4;
        assertFalse(m.parse(new UnsafeBuffer(cut), 0, cut.length));
        // wrong magic cookie
        final byte[] cookie = OFFER.clone();
        cookie[239] = 0x64;
        assertFalse(m.parse(new UnsafeBuffer(cookie), 0, cookie.length));
        // not Ethernet (htype 6)
        final byte[] htype = OFFER.clone();
        htype[1] = 6;
        assertFalse(m.parse(new UnsafeBuffer(htype), 0, htype.length));
        // shorter than the fixed part
        assertFalse(m.parse(new UnsafeBuffer(OFFER), 0, 239));
    }

    @Test
    void shouldEmitALiteralDiscover() {
        final DhcpMessage m = new DhcpMessage();
        m.op = DhcpMessage.OP_REQUEST;
        m.messageType = DhcpMessage.DISCOVER;
        m.xid = 0x12345678;
        m.secs = 3;
        m.chaddr = 0x525400123456L;
        m.parameterRequest = true;
        final byte[] buf = new byte[600];
        Arrays.fill(buf, (byte)0xA5); // catches reliance on zeroed memory
        final int n = m.emit(new UnsafeBuffer(buf), 0);
        assertEquals(DhcpMessage.MIN_LENGTH, n);
        final String options = "350101" + "3d0701525400123456" + "3703010306" + "ff";
        final String expected = "01010600" + "12345678" + "0003" + "0000"
            + "00000000" + "00000000" + "00000000" + "00000000"
            + "525400123456" + "00000000000000000000"
            + ZEROS_192
            + "63825363" + options + "00".repeat(300 - 240 - options.length() / 2);
        assertEquals(expected, HEX.formatHex(buf, 0, n));
        assertEquals((byte)0xA5, buf[n], "nothing written past the message");
    }

    @Test
    void shouldEmitARequestWithRequestedAddressAndServerId() {
        final DhcpMessage m = new DhcpMessage();
        m.op = DhcpMessage.OP_REQUEST;
        m.messageType = DhcpMessage.REQUEST;
        m.xid = 1;
        m.chaddr = 0x525400123456L;
        m.requestedIp = 0x0A00020F;
        m.serverId = 0x0A000202;
        final byte[] buf = new byte[600];
        Arrays.fill(buf, (byte)0xA5);
        m.emit(new UnsafeBuffer(buf), 0);
        assertArrayEquals(HEX.parseHex("350103" + "3d0701525400123456" + "32040a00020f" + "36040a000202" + "ff"),
            Arrays.copyOfRange(buf, 240, 240 + 3 + 9 + 6 + 6 + 1));
        // and it parses back
        final DhcpMessage back = new DhcpMessage();
        assertTrue(back.parse(new UnsafeBuffer(buf), 0, 300));
        assertEquals(DhcpMessage.REQUEST, back.messageType);
        assertEquals(0x0A00020F, back.requestedIp);
        assertEquals(0x0A000202, back.serverId);
    }
}
