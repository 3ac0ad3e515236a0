package dev.osvj.net.wire;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * A TCP segment as the state machine sees it: header fields, parsed options, and a payload view
 * (buffer, offset, length) that is only valid until the segment is handed back. One mutable,
 * reusable instance per processing context: nothing is allocated per segment.
 *
 * <p>{@link #window} is the raw 16-bit field (not yet scaled).
 */
public final class TcpRepr {
    public int srcPort;
    public int dstPort;
    public int seq;
    public int ack;
    public int flags;
    public int window;
    public int urgent;
    public final TcpOptions options = new TcpOptions();
    public DirectBuffer payload;
    public int payloadOffset;
    public int payloadLength;

    public TcpRepr clear() {
        srcPort = 0;
        dstPort = 0;
        seq = 0;
        ack = 0;
        flags = 0;
        window = 0;
        urgent = 0;
        options.clear();
        payload = null;
        payloadOffset = 0;
        payloadLength = 0;
        return this;
    }

    public boolean has(final int flag) {
        return (flags & flag) != 0;
    }

    /** Sequence space the segment occupies: payload plus one each for SYN and FIN. */
    public int segmentLength() {
        return payloadLength + ((flags & TcpSegment.SYN) != 0 ? 1 : 0) + ((flags & TcpSegment.FIN) != 0 ? 1 : 0);
    }

    /** Fill from a checked segment; false when the options are malformed. */
    public boolean parse(final TcpSegment s) {
        srcPort = s.sourcePort();
        dstPort = s.destinationPort();
        seq = s.sequence();
        ack = s.acknowledgment();
        flags = s.flags();
        window = s.window();
        urgent = s.urgentPointer();
        payload = s.buffer();
        payloadOffset = s.payloadOffset();
        payloadLength = s.payloadLength();
        return options.parse(s.buffer(), s.optionsOffset(), s.optionsLength());
    }

    /** Header length {@link #emit} writes. */
    public int headerLength() {
        return TcpSegment.HEADER_LENGTH + options.emittedLength();
    }

    /**
     * Write header, options and payload at {@code offset} with the checksum for the given IPs.
     *
     * @return the segment length.
     */
    public int emit(final MutableDirectBuffer b, final int offset, final int srcIp, final int dstIp) {
        final int optLen = options.emittedLength();
        final int hl = TcpSegment.HEADER_LENGTH + optLen;
        Bytes.put16(b, offset + TcpSegment.SRC_PORT_OFFSET, srcPort);
        Bytes.put16(b, offset + TcpSegment.DST_PORT_OFFSET, dstPort);
        Bytes.put32(b, offset + TcpSegment.SEQ_OFFSET, seq);
        Bytes.put32(b, offset + TcpSegment.ACK_OFFSET, (flags & TcpSegment.ACK) != 0 ? ack : 0);
        Bytes.put8(b, offset + TcpSegment.DATA_OFFSET_OFFSET, (hl / 4) << 4);
        Bytes.put8(b, offset + TcpSegment.FLAGS_OFFSET, flags);
        Bytes.put16(b, offset + TcpSegment.WINDOW_OFFSET, window);
        Bytes.put16(b, offset + TcpSegment.CHECKSUM_OFFSET, 0);
        Bytes.put16(b, offset + TcpSegment.URGENT_OFFSET, urgent);
        options.emit(b, offset + TcpSegment.HEADER_LENGTH);
        if (payloadLength > 0) {
            b.putBytes(offset + hl, payload, payloadOffset, payloadLength);
        }
        final int len = hl + payloadLength;
        Bytes.put16(b, offset + TcpSegment.CHECKSUM_OFFSET,
            Checksum.finish(Checksum.pseudoHeader(srcIp, dstIp, Ipv4Packet.PROTO_TCP, len) + Checksum.sum(b, offset, len)));
        return len;
    }

    @Override
    public String toString() {
        final StringBuilder sb = new StringBuilder();
        sb.append(srcPort).append('>').append(dstPort).append(" [").append(TcpSegment.flagsText(flags)).append("] seq ")
            .append(Integer.toUnsignedString(seq));
        if ((flags & TcpSegment.ACK) != 0) {
            sb.append(" ack ").append(Integer.toUnsignedString(ack));
        }
        sb.append(" win ").append(window).append(" len ").append(payloadLength);
        if (options.mss >= 0) {
            sb.append(" mss ").append(options.mss);
        }
        if (options.windowShift >= 0) {
            sb.append(" wscale ").append(options.windowShift);
        }
        if (options.sackPermitted) {
            sb.append(" sackOK");
        }
        if (options.hasTimestamp) {
            sb.append(" TS val ").append(Integer.toUnsignedString(options.tsVal)).append(" ecr ")
                .append(Integer.toUnsignedString(options.tsEcr));
        }
        for (int i = 0; i < options.sackCount; i++) {
            sb.append(" sack ").append(Integer.toUnsignedString(options.sackLeft[i])).append(':')
                .append(Integer.toUnsignedString(options.sackRight[i]));
        }
        return sb.toString();
    }
}
