package dev.osvj.net.dev;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.SplittableRandom;

/**
 * An in-memory Ethernet cable between two devices ({@link #a()} and {@link #b()}): a frame one end
 * transmits arrives in the other end's receive queue. Optional impairments, applied per frame with a
 * seeded random generator so a failing run can be repeated: drop, duplicate, corrupt one byte, and
 * reorder (hold one frame back and send it after the next).
 */
public final class Wire {
    /** Impairment rates, each 0..1. */
    public record Impairments(double drop, double duplicate, double corrupt, double reorder, long seed) {
        public static final Impairments NONE = new Impairments(0, 0, 0, 0, 1);
    }

    private final End a;
    private final End b;

    public Wire(final int mtu, final Impairments impairments) {
        a = new End("a", 0x020000000001L, mtu, impairments);
        b = new End("b", 0x020000000002L, mtu, impairments);
        a.peer = b;
        b.peer = a;
    }

    public Wire(final int mtu) {
        this(mtu, Impairments.NONE);
    }

    public NetDevice a() {
        return a;
    }

    public NetDevice b() {
        return b;
    }

    private static final class End extends RingDevice {
        private End peer;
        private final Impairments imp;
        private final SplittableRandom random;
        private final UnsafeBuffer held;
        private int heldLength = -1;
        private final UnsafeBuffer scratch;

        End(final String name, final long mac, final int mtu, final Impairments imp) {
            super(name, mac, mtu, 2 << 20);
            this.imp = imp;
            this.random = new SplittableRandom(imp.seed() ^ mac);
            this.held = new UnsafeBuffer(new byte[mtu + 64]);
            this.scratch = new UnsafeBuffer(new byte[mtu + 64]);
        }

        @Override
        public synchronized boolean transmit(final DirectBuffer buffer, final int offset, final int length) {
            if (imp == Impairments.NONE) {
                return peer.deliver(buffer, offset, length);
            }
            if (length > scratch.capacity()) {
                countDrop();
                return false;
            }
            if (random.nextDouble() < imp.drop()) {
                countDrop();
                return true;
            }
            scratch.putBytes(0, buffer, offset, length);
            if (random.nextDouble() < imp.corrupt()) {
                final int at = random.nextInt(length);
                scratch.putByte(at, (byte)(scratch.getByte(at) ^ (1 << random.nextInt(8))));
            }
            if (heldLength < 0 && random.nextDouble() < imp.reorder()) {
                held.putBytes(0, scratch, 0, length);
                heldLength = length;
                return true;
            }
            peer.deliver(scratch, 0, length);
            if (random.nextDouble() < imp.duplicate()) {
                peer.deliver(scratch, 0, length);
            }
            if (heldLength >= 0) {
                peer.deliver(held, 0, heldLength);
                heldLength = -1;
            }
            return true;
        }
    }
}
