package dev.osvj.vswitch;

import dev.osvj.kernel.Errno;
import dev.osvj.virtio.net.FrameSink;
import dev.osvj.virtio.net.FrameTransport;
import dev.osvj.virtio.net.VirtioNetDevice;
import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A port on a {@link VSwitch}, seen from the instance: the {@code vswitch} net backend's
 * {@link FrameTransport}. Frames the guest sends go up the port's uplink (an exclusive publication on
 * the switch's channel and stream: its session id is the port's identity), frames for it come back on
 * its downlink subscription.
 *
 * <ul>
 *   <li>{@code aeron:ipc}: the downlink is {@code aeron:ipc?session-id=S} on the switch's downlink
 *       stream, S being the uplink's session id (unique on the media driver);</li>
 *   <li>{@code aeron:udp?endpoint=H:P}: the downlink is a UDP subscription on an ephemeral port of the
 *       local address that routes to H, announced to the switch in the HELLO.</li>
 * </ul>
 *
 * <p>{@link #join} returns once the port is up both ways (the switch has the port and its downlink is
 * connected), so the first frames are not lost to the join. {@link #send} and {@link #poll} are called
 * by the device's backend thread ({@link #send} also by the guest's kicking thread when the port
 * {@link #transmitsInline transmits inline}, one thread at a time); they never block: an uplink without room is
 * {@link #BACK_PRESSURED}. A received frame is handed to the sink as a view into the Aeron term
 * buffer (zero copy; the view ends with the call).
 *
 * <p>Direct receive: a port whose virtio-net device runs in this JVM ({@link #deliverTo}) on a switch
 * in this JVM with cut-through gets its frames written straight into the device's receive queue by
 * the forwarding thread ({@link VirtioNetDevice#offerRx}): no downlink copy, no wake-up of the
 * device's backend thread. The downlink stays the way for frames the guest has no buffer for yet,
 * and for every frame while the downlink still holds older ones ({@link #receiveDirect}), so the
 * guest sees frames in the order the switch forwarded them.
 */
public final class SwitchPort implements FrameTransport {
    /** How long {@link #join} waits for the switch and its downlink. */
    private static final long JOIN_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(20);
    /** Every native address, as one segment: a term buffer's bytes are {@code (EVERYTHING, address)}. */
    private static final MemorySegment EVERYTHING = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private final String description;
    private final ExclusivePublication uplink;
    private final Subscription downlink;
    private final int maxFrame;
    private final Runnable onClose;
    private final UnsafeBuffer frameHeader = new UnsafeBuffer(new byte[PortMessage.HEADER_LENGTH]);
    private final UnsafeBuffer txView = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer txScratch;
    private final MemorySegment txScratchSegment;
    private final MemorySegment rxScratch;
    private final FragmentAssembler assembler = new FragmentAssembler(new Receiver());
    private final AtomicLong txFrames = new AtomicLong();
    private final AtomicLong rxFrames = new AtomicLong();
    private final AtomicLong txBackPressured = new AtomicLong();
    private final AtomicLong txCutThrough = new AtomicLong();
    private final AtomicLong rxDirect = new AtomicLong();
    /** The device this port's frames are for when it runs in this JVM, or null (downlink only). */
    private volatile VirtioNetDevice rxDevice;
    private FrameSink sink;
    private volatile boolean closed;
    /** The switch that forwards this port's frames on the sending thread, or null (use the uplink). */
    private volatile VSwitch cutSwitch;
    /** This port's number on {@link #cutSwitch}; written before it. */
    private int cutPort;
    /**
     * The device may call {@link #send} on the guest's kicking thread ({@link #transmitsInline}), so
     * every send only tries the forwarding lock; written before {@link #cutSwitch}.
     */
    private boolean inline;
    /** With {@link #inline}: kernel threads' kicks too, not only host threads'; written before {@link #cutSwitch}. */
    private boolean inlineOnKernelThreads;
    /**
     * Sender only: the uplink position after the last frame this port offered to its uplink (0: none).
     * Frames are cut through only once the switch thread has forwarded up to it ({@link #uplinkForwarded}),
     * so a frame never overtakes an earlier one still in the uplink.
     */
    private long uplinkPosition;
    /** Switch thread writes (after forwarding a frame of this port from its uplink), the sender reads. */
    private final AtomicLong uplinkForwarded = new AtomicLong();
    /** Sender only: frames this port handed to the switch's forwarding-lock holder ({@link VSwitch#cutThrough}). */
    private long handOffs;
    /** Written by the forwarding-lock holder after forwarding one of them, read by the sender. */
    private final AtomicLong handOffsForwarded = new AtomicLong();
    /** Frames the switch in this JVM offered to this port's downlink (forwarding-lock holder writes, poller reads). */
    private final AtomicLong downlinkOffered = new AtomicLong();
    /** Inline sends that found the switch busy and took the uplink instead. */
    private final AtomicLong txInlineBusy = new AtomicLong();
    /** The thread that polls the downlink (the device's backend thread), for {@link #wakePoller}. */
    private volatile Thread poller;
    /** Wakes the switch's thread after a send when the switch runs in this JVM on the same driver; else a no-op. */
    private final Runnable switchWake;
    private final String localKey;

    /**
     * Ports joined from this JVM, by driver directory and uplink session id: a switch on the same
     * driver finds the port of a HELLO here and wakes the port's polling thread when it forwards to it,
     * instead of leaving it to notice at its next idle poll.
     */
    private static final java.util.Map<String, SwitchPort> LOCAL = new java.util.concurrent.ConcurrentHashMap<>();

    static SwitchPort local(final String aeronDir, final int sessionId) {
        return LOCAL.get(aeronDir + "/" + sessionId);
    }

    private SwitchPort(final String description, final ExclusivePublication uplink, final Subscription downlink,
        final int mtu, final Runnable onClose, final String aeronDir, final Runnable switchWake) {
        this.description = description;
        this.switchWake = switchWake;
        this.localKey = aeronDir + "/" + uplink.sessionId();
        this.uplink = uplink;
        this.downlink = downlink;
        this.maxFrame = SwitchCore.ETHERNET_HEADER + mtu + SwitchCore.VLAN_TAG;
        this.onClose = onClose;
        final java.nio.ByteBuffer tx = java.nio.ByteBuffer.allocateDirect(maxFrame);
        this.txScratch = new UnsafeBuffer(tx);
        this.txScratchSegment = MemorySegment.ofBuffer(tx);
        this.rxScratch = MemorySegment.ofBuffer(java.nio.ByteBuffer.allocateDirect(maxFrame + 64));
        PortMessage.putHeader(frameHeader, 0, PortMessage.FRAME);
    }

    /**
     * Join switch {@code switchName} through {@code aeron}'s media driver.
     *
     * @param channel  {@code "aeron:ipc"} (the switch runs on this driver) or
     *                 {@code "aeron:udp?endpoint=HOST:PORT"} (the switch's UDP uplink).
     * @param portName the port's name in the switch's tables ({@code "web-1/eth0"}).
     * @param mtu      the interface's MTU (bytes): larger frames are refused with {@code -EMSGSIZE}.
     * @throws IllegalStateException when the switch does not answer within 20 s.
     */
    public static SwitchPort join(final Aeron aeron, final String switchName, final String channel, final String portName,
        final int mtu) {
        return join(aeron, switchName, channel, portName, mtu, () -> {
        });
    }

    /** {@link #join(Aeron, String, String, String, int)}, running {@code onClose} after the port closed. */
    public static SwitchPort join(final Aeron aeron, final String switchName, final String channel, final String portName,
        final int mtu, final Runnable onClose) {
        return join(aeron, switchName, channel, portName, mtu, onClose, false);
    }

    /**
     * Join as a trunk link of another switch ({@link PortMessage#FLAG_TRUNK} in the HELLO): the remote
     * switch applies split horizon to the port. The joining switch polls and sends on it from its own
     * duty cycle ({@link VSwitch#addTrunk}).
     */
    static SwitchPort joinTrunk(final Aeron aeron, final String switchName, final String channel, final String portName,
        final int mtu) {
        return join(aeron, switchName, channel, portName, mtu, () -> {
        }, true);
    }

    private static SwitchPort join(final Aeron aeron, final String switchName, final String channel, final String portName,
        final int mtu, final Runnable onClose, final boolean trunk) {
        final int stream = SwitchSpec.streamId(switchName);
        final int downStream = SwitchSpec.downlinkStreamId(switchName);
        final boolean udp = channel.startsWith("aeron:udp");
        ExclusivePublication up = null;
        Subscription down = null;
        try {
            up = aeron.addExclusivePublication(channel, stream);
            final String downChannel;
            if (udp) {
                final String local = localAddressTowards(channel);
                down = aeron.addSubscription("aeron:udp?endpoint=" + local + ":0", downStream);
                downChannel = "aeron:udp?endpoint=" + awaitEndpoint(down, switchName);
            } else {
                downChannel = "aeron:ipc?session-id=" + up.sessionId();
                down = aeron.addSubscription(downChannel, downStream);
            }
            final String dir = aeron.context().aeronDirectoryName();
            final VSwitch sameDriver = udp ? null : SwitchHost.find(switchName)
                .filter(sw -> sw.host().aeronDir().equals(dir)).orElse(null);
            final SwitchPort port = new SwitchPort("vswitch " + switchName + " port " + portName + " ("
                + (udp ? channel.substring("aeron:udp?endpoint=".length()) + " udp" : "ipc") + " session "
                + up.sessionId() + ")", up, down, mtu, onClose, dir,
                sameDriver == null ? () -> { } : sameDriver.host()::wake);
            LOCAL.put(port.localKey, port);
            try {
                port.hello(new PortMessage.Hello(downStream, portName, downChannel, trunk), switchName, channel);
                if (sameDriver != null && sameDriver.host().cutThrough()) {
                    port.awaitCutThrough(switchName); // every frame then takes one path: no reordering
                }
            } catch (final RuntimeException e) {
                LOCAL.remove(port.localKey, port);
                throw e;
            }
            return port;
        } catch (final RuntimeException e) {
            CloseHelper.quietCloseAll(up, down);
            throw e;
        }
    }

    /** The local address the host routes to the switch's UDP endpoint from. */
    private static String localAddressTowards(final String channel) {
        final String endpoint = channel.substring(channel.indexOf("endpoint=") + "endpoint=".length()).split("[|&]")[0];
        final int colon = endpoint.lastIndexOf(':');
        try (DatagramSocket probe = new DatagramSocket()) {
            probe.connect(new InetSocketAddress(endpoint.substring(0, colon), Integer.parseInt(endpoint.substring(colon + 1))));
            return probe.getLocalAddress().getHostAddress();
        } catch (final IOException e) {
            throw new UncheckedIOException("vswitch: no route to " + endpoint, e);
        }
    }

    private static String awaitEndpoint(final Subscription down, final String switchName) {
        final long deadline = System.nanoTime() + JOIN_TIMEOUT_NS;
        String resolved;
        while ((resolved = down.resolvedEndpoint()) == null) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("vswitch " + switchName + ": the downlink's UDP port was not bound");
            }
            LockSupport.parkNanos(100_000);
        }
        return resolved;
    }

    /** Control path: wait until the switch in this JVM has enabled cut-through for this port. */
    private void awaitCutThrough(final String switchName) {
        final long deadline = System.nanoTime() + JOIN_TIMEOUT_NS;
        while (cutSwitch == null) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("vswitch " + switchName + ": the switch did not take the port");
            }
            LockSupport.parkNanos(100_000);
        }
    }

    /** Control path: introduce the port and wait until its downlink is connected. */
    private void hello(final PortMessage.Hello hello, final String switchName, final String channel) {
        final UnsafeBuffer msg = new UnsafeBuffer(new byte[1024 + hello.name().length() * 4 + hello.downlinkChannel().length()]);
        final int length = PortMessage.putHello(msg, 0, hello);
        final long deadline = System.nanoTime() + JOIN_TIMEOUT_NS;
        while (uplink.offer(msg, 0, length) < 0) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("vswitch " + switchName + " does not answer on " + channel
                    + " (no switch of that name listening there)");
            }
            LockSupport.parkNanos(200_000);
        }
        while (!downlink.isConnected()) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("vswitch " + switchName + ": the switch did not connect the port's downlink "
                    + hello.downlinkChannel());
            }
            LockSupport.parkNanos(200_000);
        }
    }

    /**
     * Switch thread (in its HELLO handling): frames from this port may be forwarded on the sending
     * thread by {@code sw} as port {@code port} ({@link VSwitch#cutThrough}). Published before the
     * port's downlink is created, so {@link #join} sees it before returning.
     */
    void enableCutThrough(final VSwitch sw, final int port, final SwitchHost.InlineTransmit inlineTransmit) {
        cutPort = port;
        inline = inlineTransmit != SwitchHost.InlineTransmit.OFF;
        inlineOnKernelThreads = inlineTransmit == SwitchHost.InlineTransmit.ALL;
        cutSwitch = sw; // volatile: publishes cutPort and inline
    }

    /**
     * Inline transmit ({@link FrameTransport#transmitsInline}): true once the port forwards on its
     * sender's thread on a switch in this JVM whose host allows it ({@link SwitchHost.Options#inlineTransmit}),
     * for the calling (kicking) thread: with {@link SwitchHost.InlineTransmit#HOST_THREADS} only when it is
     * not a kernel thread.
     * {@link #send} then never blocks and never waits for another thread: it only {@code tryLock}s the
     * switch's forwarding lock ({@link VSwitch#cutThrough} with {@code noWait}) and, when the switch is
     * busy, hands the frame to the lock's holder through the switch's hand-off ring (or, only when that
     * is full, offers it to its uplink for the switch thread: Aeron's non-blocking offer, then an
     * unpark); frames into a destination device are offered without waiting for its receive lock,
     * going to the destination's downlink when it is busy. No scheduler call is made on the way.
     */
    @Override
    public boolean transmitsInline() {
        return cutSwitch != null && inline && (inlineOnKernelThreads || dev.osvj.sched.KThread.current() == null);
    }

    @Override
    public int send(final MemorySegment buffer, final long offset, final int length) {
        if (closed) {
            return -Errno.ENETDOWN.number();
        }
        if (length > maxFrame) {
            return -Errno.EMSGSIZE.number();
        }
        final UnsafeBuffer frame;
        if (buffer.isNative()) {
            txView.wrap(buffer.address() + offset, length);
            frame = txView;
        } else {
            MemorySegment.copy(buffer, offset, txScratchSegment, 0, length);
            frame = txScratch;
        }
        final VSwitch sw = cutSwitch;
        if (sw != null && uplinkPosition <= uplinkForwarded.get()) {
            final int cut = sw.cutThrough(this, cutPort, frame, 0, length, inline);
            if (cut == VSwitch.CUT) {
                txFrames.lazySet(txFrames.get() + 1);
                txCutThrough.lazySet(txCutThrough.get() + 1);
                return 0;
            }
            if (cut == VSwitch.HANDED_OFF) {
                txFrames.lazySet(txFrames.get() + 1);
                return 0;
            }
            if (cut == VSwitch.CUT_FULL) {
                txBackPressured.lazySet(txBackPressured.get() + 1);
                return BACK_PRESSURED;
            }
            if (cut == VSwitch.CUT_BUSY) {
                txInlineBusy.lazySet(txInlineBusy.get() + 1);
            }
        }
        long rc = uplink.offer(frameHeader, 0, PortMessage.HEADER_LENGTH, frame, 0, length);
        if (rc == Publication.ADMIN_ACTION) {
            rc = uplink.offer(frameHeader, 0, PortMessage.HEADER_LENGTH, frame, 0, length);
        }
        if (rc > 0) {
            uplinkPosition = rc;
            txFrames.lazySet(txFrames.get() + 1);
            switchWake.run();
            return 0;
        }
        if (rc == Publication.BACK_PRESSURED || rc == Publication.ADMIN_ACTION) {
            txBackPressured.lazySet(txBackPressured.get() + 1);
            return BACK_PRESSURED;
        }
        return -Errno.ENETDOWN.number(); // not connected (the switch went away), closed
    }

    /**
     * Send one frame held in an Agrona buffer (a trunk forwarding from a term buffer); as {@link #send}
     * but without a copy or a wake-up.
     *
     * @return 0, {@link #BACK_PRESSURED}, or {@code -ENETDOWN}.
     */
    int sendFrame(final DirectBuffer buffer, final int offset, final int length) {
        if (closed) {
            return -Errno.ENETDOWN.number();
        }
        long rc = uplink.offer(frameHeader, 0, PortMessage.HEADER_LENGTH, buffer, offset, length);
        if (rc == Publication.ADMIN_ACTION) {
            rc = uplink.offer(frameHeader, 0, PortMessage.HEADER_LENGTH, buffer, offset, length);
        }
        if (rc > 0) {
            txFrames.lazySet(txFrames.get() + 1);
            return 0;
        }
        if (rc == Publication.BACK_PRESSURED || rc == Publication.ADMIN_ACTION) {
            txBackPressured.lazySet(txBackPressured.get() + 1);
            return BACK_PRESSURED;
        }
        return -Errno.ENETDOWN.number();
    }

    /** Both directions have a connected peer (false once the switch went away and Aeron noticed). */
    boolean connected() {
        return !closed && uplink.isConnected() && downlink.isConnected();
    }

    @Override
    public int poll(final FrameSink sink, final int limit) {
        if (closed) {
            return 0;
        }
        this.sink = sink;
        final Thread current = Thread.currentThread();
        if (poller != current) {
            poller = current;
        }
        return downlink.poll(assembler, limit);
    }

    /** Downlink messages to the sink: frames only (the switch sends nothing else). */
    private final class Receiver implements FragmentHandler {
        @Override
        public void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header) {
            if (PortMessage.type(buffer, offset, length) != PortMessage.FRAME) {
                return;
            }
            final int frameLength = length - PortMessage.HEADER_LENGTH;
            rxFrames.lazySet(rxFrames.get() + 1);
            if (buffer.byteArray() == null) {
                sink.onFrame(EVERYTHING, buffer.addressOffset() + offset + PortMessage.HEADER_LENGTH, frameLength);
            } else if (frameLength <= rxScratch.byteSize()) {
                MemorySegment.copy(MemorySegment.ofArray(buffer.byteArray()),
                    buffer.addressOffset() - org.agrona.BufferUtil.ARRAY_BASE_OFFSET + offset + PortMessage.HEADER_LENGTH,
                    rxScratch, 0, frameLength);
                sink.onFrame(rxScratch, 0, frameLength);
            }
        }
    }

    /**
     * Let a switch in this JVM receive this port's frames straight into {@code device}'s receive queue
     * (the device whose transport this port is). Control path, once, after {@link #join}.
     */
    public void deliverTo(final VirtioNetDevice device) {
        rxDevice = device;
    }

    /**
     * Forwarding-lock holder (a switch in this JVM): receive one frame for this port straight into
     * its device ({@link #deliverTo}, {@link VirtioNetDevice#offerRx}) when the downlink holds no
     * older frame, i.e. its reader has consumed it up to {@code downlinkPosition}, the downlink
     * publication's position (the subscriber position is a volatile counter).
     *
     * @return false when the frame must take the downlink: no device, frames still on the downlink,
     *         no receive buffer posted, or the device down.
     */
    boolean receiveDirect(final long downlinkPosition, final DirectBuffer buffer, final int offset, final int length,
        final boolean mayWait) {
        final VirtioNetDevice device = rxDevice;
        if (device == null || downlink.imageCount() > 0 && downlink.imageAtIndex(0).position() < downlinkPosition) {
            return false;
        }
        final byte[] array = buffer.byteArray();
        final int rc = array == null
            ? device.offerRx(EVERYTHING, buffer.addressOffset() + offset, length, mayWait)
            : device.offerRx(MemorySegment.ofArray(array),
                buffer.addressOffset() - org.agrona.BufferUtil.ARRAY_BASE_OFFSET + offset, length, mayWait);
        if (rc != VirtioNetDevice.RX_TAKEN) {
            return false;
        }
        rxDirect.lazySet(rxDirect.get() + 1);
        return true;
    }

    /**
     * {@link FrameTransport#mayHaveFrames}: false when the port's switch runs in this JVM with cut-through
     * ({@link #enableCutThrough}) and its downlink holds no frame the switch offered: every frame on the
     * downlink comes from that switch's egress, which counts it ({@link #downlinkOffered}) before it wakes
     * the poller ({@link #wakePoller}), so a poller that saw the counts equal is woken after the next one.
     */
    @Override
    public boolean mayHaveFrames() {
        final Thread current = Thread.currentThread();
        if (poller != current) {
            poller = current; // the polling thread asks: it is the one to wake, even before its first poll
        }
        return cutSwitch == null || closed || downlinkOffered.get() != rxFrames.get();
    }

    /**
     * {@link FrameTransport#needsPolling}: false while the port's switch runs in this JVM with cut-through, which
     * wakes the poller after every frame it puts on the downlink ({@link #mayHaveFrames}).
     */
    @Override
    public boolean needsPolling() {
        return cutSwitch == null || closed;
    }

    /** Forwarding-lock holder: one more frame offered to this port's downlink (before waking its poller). */
    void downlinkOffered() {
        downlinkOffered.lazySet(downlinkOffered.get() + 1);
    }

    /** Sender: one more frame of this port is in the switch's hand-off ring. */
    void handedOff() {
        handOffs++;
    }

    /** Forwarding-lock holder: it forwarded one of this port's handed-off frames. */
    void handOffForwarded() {
        handOffsForwarded.lazySet(handOffsForwarded.get() + 1);
    }

    /** Sender: frames of this port are still in the switch's hand-off ring (its next one must follow them). */
    boolean handOffsPending() {
        return handOffs != handOffsForwarded.get();
    }

    /** Frames of this port that the switch's forwarding-lock holders forwarded from its hand-off ring, since the start. */
    public long txHandedOff() {
        return handOffsForwarded.get();
    }

    /** Switch thread: it forwarded this port's uplink up to {@code position} (an Aeron stream position). */
    void uplinkForwarded(final long position) {
        uplinkForwarded.lazySet(position);
    }

    /** Inline sends ({@link #transmitsInline}) that found the switch's forwarding lock busy and took the uplink. */
    public long txInlineBusy() {
        return txInlineBusy.get();
    }

    /** Frames the switch received straight into the device ({@link #deliverTo}), not among {@link #rxFrames}. */
    public long rxDirect() {
        return rxDirect.get();
    }

    /** The calling thread polls this port's downlink: the device's backend thread (not a guest's kicking thread). */
    boolean onPollerThread() {
        return poller == Thread.currentThread();
    }

    /** Wake the downlink's polling thread if it is parked (the switch just sent it a frame). Any thread. */
    void wakePoller() {
        final Thread t = poller;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    /** Frames sent up to the switch. */
    public long txFrames() {
        return txFrames.get();
    }

    /** Frames received from the switch through the downlink (see {@link #rxDirect} for the others). */
    public long rxFrames() {
        return rxFrames.get();
    }

    /** Frames the switch forwarded on the sending thread (cut-through), a part of {@link #txFrames}. */
    public long txCutThrough() {
        return txCutThrough.get();
    }

    /** Sends refused because the uplink had no room. */
    public long txBackPressured() {
        return txBackPressured.get();
    }

    /** The uplink's Aeron session id: the port's identity on the switch. */
    public int sessionId() {
        return uplink.sessionId();
    }

    @Override
    public String describe() {
        return description;
    }

    /** Say BYE (the switch removes the port at once) and close both directions. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        LOCAL.remove(localKey, this);
        try {
            final UnsafeBuffer bye = new UnsafeBuffer(new byte[PortMessage.HEADER_LENGTH]);
            PortMessage.putHeader(bye, 0, PortMessage.BYE);
            uplink.offer(bye, 0, PortMessage.HEADER_LENGTH);
        } catch (final RuntimeException ignored) {
            // the client is closing already: the image going away removes the port instead
        }
        CloseHelper.quietCloseAll(uplink, downlink);
        onClose.run();
    }
}
