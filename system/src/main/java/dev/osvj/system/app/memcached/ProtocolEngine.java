package dev.osvj.system.app.memcached;

/**
 * What the text and the binary protocol engines share: one connection's received bytes, buffered in
 * {@code in[readPos, writePos)} until a whole request (or the part of it the engine needs) is there, and
 * the states every storage command goes through. An engine does no I/O and has no clock of its own;
 * {@link #receive} appends its replies to an {@link OutBuffer}.
 *
 * <p>States: {@link #REQUEST} (the subclass parses the next request: {@link #request}), {@link #DATA}
 * (copying a storage command's value straight into its item in guest memory, {@code itemBytes} bytes;
 * then {@link #completeValue}), {@link #SWALLOW} (discarding {@code swallow} bytes of a refused value),
 * {@link #CLOSED} (after quit or a protocol error; the connection closes once the replies are sent).
 *
 * <p>Single-threaded: one worker owns a connection and its engine.
 */
abstract sealed class ProtocolEngine permits TextProtocol, BinaryProtocol {
    static final int REQUEST = 0;
    static final int DATA = 1;
    static final int SWALLOW = 2;
    static final int CLOSED = 3;

    protected final ItemStore store;
    protected final ServerStats stats;

    /** Received bytes not consumed yet: {@code [readPos, writePos)}. */
    protected byte[] in = new byte[4096];
    protected int readPos;
    protected int writePos;
    protected int state = REQUEST;

    /** The unlinked item a storage command's value is copied into (owned by this connection), or 0. */
    protected long item;
    protected int itemPos;
    protected int itemBytes;
    /** Bytes of a refused value still to discard. */
    protected long swallow;

    ProtocolEngine(final ItemStore store, final ServerStats stats) {
        this.store = store;
        this.stats = stats;
    }

    /**
     * Parse and answer the next request from {@code in[readPos, writePos)}, consuming its bytes, and
     * possibly move to {@link #DATA}, {@link #SWALLOW} or {@link #CLOSED}.
     *
     * @return false when more bytes are needed first (nothing consumed).
     */
    abstract boolean request(OutBuffer out);

    /** The value of a storage command is in {@code item}: store it and answer. */
    abstract void completeValue(OutBuffer out);

    /**
     * Consume {@code len} received bytes and append the replies of every complete request to {@code out}.
     *
     * @return false when the connection must be closed after {@code out} is sent.
     */
    final boolean receive(final byte[] b, final int off, final int len, final OutBuffer out) {
        stats.bytesRead.add(len);
        if (state == CLOSED) {
            return false;
        }
        append(b, off, len);
        while (state != CLOSED) {
            final int avail = writePos - readPos;
            if (state == DATA) {
                final int n = Math.min(avail, itemBytes - itemPos);
                store.writeValue(item, itemPos, in, readPos, n);
                readPos += n;
                itemPos += n;
                if (itemPos < itemBytes) {
                    break;
                }
                state = REQUEST;
                completeValue(out);
            } else if (state == SWALLOW) {
                final int n = (int)Math.min(avail, swallow);
                readPos += n;
                swallow -= n;
                if (swallow > 0) {
                    break;
                }
                state = REQUEST;
            } else if (!request(out)) {
                break;
            }
        }
        if (readPos == writePos) {
            readPos = 0;
            writePos = 0;
        }
        return state != CLOSED;
    }

    /** Copy a value of {@code bytes} bytes into {@code it} as it arrives ({@link #DATA}). */
    protected final void receiveValue(final long it, final int bytes) {
        item = it;
        itemPos = 0;
        itemBytes = bytes;
        state = DATA;
    }

    /** Discard the next {@code bytes} received bytes ({@link #SWALLOW}). */
    protected final void skip(final long bytes) {
        if (bytes > 0) {
            swallow = bytes;
            state = SWALLOW;
        }
    }

    /** The value is complete: hand the item over (the caller stores or discards it). */
    protected final long takeItem() {
        final long it = item;
        item = 0;
        return it;
    }

    /** Release what the connection holds (an item being received). Called once, when it closes. */
    final void close() {
        if (item != 0) {
            store.discard(item);
            item = 0;
        }
        state = CLOSED;
    }

    /** Buffer received bytes behind the unconsumed ones, compacting or growing the buffer as needed. */
    private void append(final byte[] b, final int off, final int len) {
        if (writePos + len > in.length) {
            final int live = writePos - readPos;
            if (live + len <= in.length && readPos > 0) {
                System.arraycopy(in, readPos, in, 0, live);
            } else {
                final byte[] bigger = new byte[Math.max(in.length * 2, live + len)];
                System.arraycopy(in, readPos, bigger, 0, live);
                in = bigger;
            }
            readPos = 0;
            writePos = live;
        }
        System.arraycopy(b, off, in, writePos, len);
        writePos += len;
    }
}
