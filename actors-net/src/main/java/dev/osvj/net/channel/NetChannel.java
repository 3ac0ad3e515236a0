package dev.osvj.net.channel;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicBoolean;

abstract class NetChannelPad0 {
    long p00, p01, p02, p03, p04, p05, p06, p07;
    long p10, p11, p12, p13, p14, p15, p16;
}

abstract class NetChannelProducer extends NetChannelPad0 {
    /** Next slot the producer writes; written by the producer only (release), read by the consumer. */
    volatile long tail;
}

abstract class NetChannelPad1 extends NetChannelProducer {
    long p20, p21, p22, p23, p24, p25, p26, p27;
    long p30, p31, p32, p33, p34, p35, p36;
}

abstract class NetChannelConsumer extends NetChannelPad1 {
    /** Next slot the consumer reads; written by the consumer only (release), read by the producer. */
    volatile long head;
}

abstract class NetChannelPad2 extends NetChannelConsumer {
    long p40, p41, p42, p43, p44, p45, p46, p47;
    long p50, p51, p52, p53, p54, p55, p56;
}

/**
 * One established TCP flow's net channel (OSv's {@code net_channel}: {@code ring_spsc<mbuf*, 256>}):
 * a single-producer single-consumer ring of {@link PacketBuffer} references with head and tail on
 * separate cache lines (Lamport's SPSC queue with release/acquire indices, as in JCTools'
 * {@code SpscArrayQueue} without its look-ahead).
 *
 * <p>Producer: the classifier ({@link #offer}) on the device's receive context: a virtio-net receive
 * interrupt, inline on the host thread that raised it; the interface's receive actor for polled
 * devices; or, on loopback, the sender's own transmit (serialised by the interface's transmit lock).
 * One producer at a time per channel in every case. Consumer: whoever holds
 * the socket lock: the application thread when it reads, writes or polls, otherwise the flow's
 * net-channel actor ({@link #poll}). The producer publishes the slot with a release store of
 * {@code tail}; the consumer reads {@code tail} with acquire before the slot, and frees the slot with a
 * release store of {@code head}.
 *
 * <p>Wakeups are per batch: {@link #offer} returns {@code true} with {@link #claimWakeup()} true only
 * for the first packet after the consumer started draining ({@link #consumerDraining()}), so a burst
 * of packets costs one wakeup, as in the seed's "wake the consumer once per batch".
 */
public final class NetChannel extends NetChannelPad2 {
    /** OSv's ring size: 256 packets per flow. */
    public static final int CAPACITY = 256;
    private static final int MASK = CAPACITY - 1;
    private static final VarHandle SLOTS = MethodHandles.arrayElementVarHandle(PacketBuffer[].class);

    private final PacketBuffer[] slots = new PacketBuffer[CAPACITY];
    private final AtomicBoolean wakeupPending = new AtomicBoolean();
    /** The consumer's owner (the socket); opaque to the channel. */
    private final Object owner;
    private volatile boolean closed;
    private long pushed;
    private long fullDrops;

    public NetChannel(final Object owner) {
        this.owner = owner;
    }

    public Object owner() {
        return owner;
    }

    /** Producer only. False when the ring is full or closed (the packet takes the general path). */
    public boolean offer(final PacketBuffer p) {
        if (closed) {
            return false;
        }
        final long t = tail;
        if (t - head >= CAPACITY) {
            fullDrops++;
            return false;
        }
        SLOTS.setRelease(slots, (int)(t & MASK), p);
        tail = t + 1; // volatile store: publishes the slot
        pushed++;
        return true;
    }

    /** Producer only: true when this producer must wake the consumer (first packet of a batch). */
    public boolean claimWakeup() {
        return !wakeupPending.get() && wakeupPending.compareAndSet(false, true);
    }

    /** Consumer only: call before draining, so packets that arrive during the drain wake again. */
    public void consumerDraining() {
        wakeupPending.set(false);
    }

    /** Consumer only: the next packet, or null when empty. The caller owns the returned buffer. */
    public PacketBuffer poll() {
        final long h = head;
        if (h >= tail) {
            return null;
        }
        final int i = (int)(h & MASK);
        final PacketBuffer p = (PacketBuffer)SLOTS.getAcquire(slots, i);
        SLOTS.setRelease(slots, i, (PacketBuffer)null);
        head = h + 1;
        return p;
    }

    public boolean isEmpty() {
        return head >= tail;
    }

    public int size() {
        return (int)(tail - head);
    }

    /** Stop accepting packets (the flow left the data states); the consumer drains what remains. */
    public void close() {
        closed = true;
    }

    public boolean isClosed() {
        return closed;
    }

    /** Packets pushed (producer's counter, approximate for other readers). */
    public long pushed() {
        return pushed;
    }

    public long fullDrops() {
        return fullDrops;
    }
}
