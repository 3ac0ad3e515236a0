package dev.osvj.net.wire;

import org.agrona.MutableDirectBuffer;

/**
 * The TCP options osvj understands, parsed into (and emitted from) one reusable mutable value: MSS
 * (kind 2), window scale (3, RFC 7323, shifts above 14 are clamped to 14), SACK-permitted (4), SACK
 * blocks (5, RFC 2018, at most 4) and timestamps (8, RFC 7323). Unknown options are skipped by their
 * length. Emitted layout, each option padded to 4 bytes with NOPs so the header stays aligned:
 *
 * <pre>
 *   MSS        02 04 mm mm
 *   WS         01 03 03 ss
 *   SACK-perm  01 01 04 02
 *   TS         01 01 08 0a vv vv vv vv ee ee ee ee
 *   SACK       01 01 05 (2+8n) [left right]{n}
 * </pre>
 */
public final class TcpOptions {
    public static final int KIND_EOL = 0;
    public static final int KIND_NOP = 1;
    public static final int KIND_MSS = 2;
    public static final int KIND_WS = 3;
    public static final int KIND_SACK_PERMITTED = 4;
    public static final int KIND_SACK = 5;
    public static final int KIND_TIMESTAMP = 8;
    /** RFC 7323 §2.3: the largest shift. */
    public static final int MAX_WINDOW_SHIFT = 14;
    public static final int MAX_SACK_BLOCKS = 4;
    public static final int MAX_LENGTH = 40;

    /** MSS value, or -1 when absent. */
    public int mss = -1;
    /** Window scale shift, or -1 when absent. */
    public int windowShift = -1;
    public boolean sackPermitted;
    public boolean hasTimestamp;
    public int tsVal;
    public int tsEcr;
    /** Number of valid entries in {@link #sackLeft}/{@link #sackRight}. */
    public int sackCount;
    public final int[] sackLeft = new int[MAX_SACK_BLOCKS];
    public final int[] sackRight = new int[MAX_SACK_BLOCKS];

    public TcpOptions clear() {
        mss = -1;
        windowShift = -1;
        sackPermitted = false;
        hasTimestamp = false;
        tsVal = 0;
        tsEcr = 0;
        sackCount = 0;
        return this;
    }

    public void copyFrom(final TcpOptions o) {
        mss = o.mss;
        windowShift = o.windowShift;
        sackPermitted = o.sackPermitted;
        hasTimestamp = o.hasTimestamp;
        tsVal = o.tsVal;
        tsEcr = o.tsEcr;
        sackCount = o.sackCount;
        System.arraycopy(o.sackLeft, 0, sackLeft, 0, MAX_SACK_BLOCKS);
        System.arraycopy(o.sackRight, 0, sackRight, 0, MAX_SACK_BLOCKS);
    }

    public void addSack(final int left, final int right) {
        if (sackCount < MAX_SACK_BLOCKS) {
            sackLeft[sackCount] = left;
            sackRight[sackCount] = right;
            sackCount++;
        }
    }

    /**
     * Parse the options area; false when it is malformed (an option running past the end, a length
     * below 2, or a known option with the wrong length), in which case the segment must be dropped.
     */
    public boolean parse(final MutableDirectBuffer b, final int offset, final int length) {
        clear();
        int i = offset;
        final int end = offset + length;
        while (i < end) {
            final int kind = Bytes.u8(b, i);
            if (kind == KIND_EOL) {
                break;
            }
            if (kind == KIND_NOP) {
                i++;
                continue;
            }
            if (i + 1 >= end) {
                return false;
            }
            final int len = Bytes.u8(b, i + 1);
            if (len < 2 || i + len > end) {
                return false;
            }
            switch (kind) {
                case KIND_MSS -> {
                    if (len != 4) {
                        return false;
                    }
                    mss = Bytes.u16(b, i + 2);
                }
                case KIND_WS -> {
                    if (len != 3) {
                        return false;
                    }
                    windowShift = Math.min(Bytes.u8(b, i + 2), MAX_WINDOW_SHIFT);
                }
                case KIND_SACK_PERMITTED -> {
                    if (len != 2) {
                        return false;
                    }
                    sackPermitted = true;
                }
                case KIND_SACK -> {
                    if ((len - 2) % 8 != 0 || len == 2) {
                        return false;
                    }
                    sackCount = 0;
                    for (int j = i + 2; j < i + len && sackCount < MAX_SACK_BLOCKS; j += 8) {
                        sackLeft[sackCount] = Bytes.i32(b, j);
                        sackRight[sackCount] = Bytes.i32(b, j + 4);
                        sackCount++;
                    }
                }
                case KIND_TIMESTAMP -> {
                    if (len != 10) {
                        return false;
                    }
                    hasTimestamp = true;
                    tsVal = Bytes.i32(b, i + 2);
                    tsEcr = Bytes.i32(b, i + 6);
                }
                default -> {
                    // unknown option: skipped
                }
            }
            i += len;
        }
        return true;
    }

    /** Length {@link #emit} writes: a multiple of 4, at most 40 (SACK blocks are cut to fit). */
    public int emittedLength() {
        int n = 0;
        if (mss >= 0) {
            n += 4;
        }
        if (windowShift >= 0) {
            n += 4;
        }
        if (sackPermitted) {
            n += 4;
        }
        if (hasTimestamp) {
            n += 12;
        }
        final int blocks = sackBlocksThatFit(n);
        if (blocks > 0) {
            n += 4 + 8 * blocks;
        }
        return n;
    }

    private int sackBlocksThatFit(final int used) {
        int blocks = sackCount;
        while (blocks > 0 && used + 4 + 8 * blocks > MAX_LENGTH) {
            blocks--;
        }
        return blocks;
    }

    /** Write the options at {@code offset}; returns the number of bytes written. */
    public int emit(final MutableDirectBuffer b, final int offset) {
        int i = offset;
        if (mss >= 0) {
            Bytes.put8(b, i, KIND_MSS);
            Bytes.put8(b, i + 1, 4);
            Bytes.put16(b, i + 2, mss);
            i += 4;
        }
        if (windowShift >= 0) {
            Bytes.put8(b, i, KIND_NOP);
            Bytes.put8(b, i + 1, KIND_WS);
            Bytes.put8(b, i + 2, 3);
            Bytes.put8(b, i + 3, windowShift);
            i += 4;
        }
        if (sackPermitted) {
            Bytes.put8(b, i, KIND_NOP);
            Bytes.put8(b, i + 1, KIND_NOP);
            Bytes.put8(b, i + 2, KIND_SACK_PERMITTED);
            Bytes.put8(b, i + 3, 2);
            i += 4;
        }
        if (hasTimestamp) {
            Bytes.put8(b, i, KIND_NOP);
            Bytes.put8(b, i + 1, KIND_NOP);
            Bytes.put8(b, i + 2, KIND_TIMESTAMP);
            Bytes.put8(b, i + 3, 10);
            Bytes.put32(b, i + 4, tsVal);
            Bytes.put32(b, i + 8, tsEcr);
            i += 12;
        }
        final int blocks = sackBlocksThatFit(i - offset);
        if (blocks > 0) {
            Bytes.put8(b, i, KIND_NOP);
            Bytes.put8(b, i + 1, KIND_NOP);
            Bytes.put8(b, i + 2, KIND_SACK);
            Bytes.put8(b, i + 3, 2 + 8 * blocks);
            i += 4;
            for (int k = 0; k < blocks; k++) {
                Bytes.put32(b, i, sackLeft[k]);
                Bytes.put32(b, i + 4, sackRight[k]);
                i += 8;
            }
        }
        return i - offset;
    }
}
