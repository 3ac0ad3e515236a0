package dev.osvj.virtio.net;

import dev.osvj.kernel.Errno;

import java.lang.foreign.MemorySegment;

/**
 * A transport that another subsystem supplies after the virtio devices exist: the {@code user}
 * backend, whose gateway lives in actors-net (which boots after virtio). Until
 * {@link #attach} the link is down: sends fail with {@code -ENETDOWN}, nothing is received.
 */
public final class PluggableTransport implements FrameTransport {
    private final String name;
    private volatile FrameTransport target;

    public PluggableTransport(final String name) {
        this.name = name;
    }

    /** The device's direct receive entry, handed on to the real transport when it is attached. */
    private volatile DirectReceiver receiver;

    /** Plug in the real transport (once); it gets the device's direct receive entry if the device gave one. */
    public synchronized void attach(final FrameTransport transport) {
        if (target != null) {
            throw new IllegalStateException(name + ": transport attached twice");
        }
        final DirectReceiver r = receiver;
        if (r != null) {
            transport.connectReceiver(r);
        }
        target = transport;
    }

    @Override
    public synchronized void connectReceiver(final DirectReceiver deviceReceiver) {
        receiver = deviceReceiver;
        final FrameTransport t = target;
        if (t != null) {
            t.connectReceiver(deviceReceiver);
        }
    }

    /** The attached transport's answer (false until attached). */
    @Override
    public boolean transmitsInline() {
        final FrameTransport t = target;
        return t != null && t.transmitsInline();
    }

    @Override
    public boolean mayHaveFrames() {
        final FrameTransport t = target;
        return t == null || t.mayHaveFrames();
    }

    @Override
    public boolean needsPolling() {
        final FrameTransport t = target;
        return t == null || t.needsPolling();
    }

    public boolean attached() {
        return target != null;
    }

    @Override
    public int send(final MemorySegment buffer, final long offset, final int length) {
        final FrameTransport t = target;
        return t == null ? -Errno.ENETDOWN.number() : t.send(buffer, offset, length);
    }

    @Override
    public int poll(final FrameSink sink, final int limit) {
        final FrameTransport t = target;
        return t == null ? 0 : t.poll(sink, limit);
    }

    @Override
    public String describe() {
        final FrameTransport t = target;
        return name + (t == null ? " (not attached)" : ": " + t.describe());
    }

    @Override
    public void close() {
        final FrameTransport t = target;
        if (t != null) {
            t.close();
        }
    }
}
