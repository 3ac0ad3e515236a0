package dev.osvj.system.app.httpd;

import dev.osvj.system.app.EpollServer;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The protocol state of one connection, free of sockets so tests drive it with literal bytes: bytes
 * in ({@link #receive}), responses out in request order ({@link #output}). Pipelined requests are
 * answered one after the other; a request that ends the connection (HTTP/1.0 without keep-alive,
 * {@code Connection: close}, any parse error) stops the parsing of what follows it.
 *
 * <p>Nothing thrown by a handler leaves {@link #receive}: an {@link HttpException} is answered with
 * its status and reason, any other exception with 500 (and reported through {@code onError}).
 * Owned by one worker thread.
 */
final class HttpConnection {
    private final HttpParser parser;
    private final Function<HttpRequest, HttpResponse> handler;
    private final java.util.function.LongSupplier epochNanos;
    private final OutBuffer out = new OutBuffer();
    private final List<Runnable> afterSend = new ArrayList<>(1);
    private boolean closing;
    long requests;

    /**
     * @param handler    answers one request; may throw (see the class comment), wrapped by {@link #handler}.
     * @param epochNanos the clock of the Date header.
     */
    HttpConnection(final int maxBody, final Function<HttpRequest, HttpResponse> handler,
        final java.util.function.LongSupplier epochNanos) {
        this.parser = new HttpParser(maxBody);
        this.handler = handler;
        this.epochNanos = epochNanos;
    }

    /** A handler that may throw {@link HttpException}. */
    interface Handler {
        HttpResponse handle(HttpRequest req) throws HttpException;
    }

    /** Adapt a throwing handler: HttpException to its response, anything else to 500. */
    static Function<HttpRequest, HttpResponse> handler(final Handler h, final java.util.function.Consumer<Throwable> onError) {
        return req -> {
            try {
                return h.handle(req);
            } catch (final HttpException e) {
                return error(e);
            } catch (final RuntimeException | Error e) {
                onError.accept(e);
                return HttpResponse.text(500, "internal server error: " + e.getClass().getSimpleName());
            }
        };
    }

    static HttpResponse error(final HttpException e) {
        final HttpResponse r = HttpResponse.text(e.status(), e.status() + " " + HttpResponse.reason(e.status()) + ": "
            + e.getMessage());
        if (e instanceof StaticFiles.MethodNotAllowed m) {
            r.header("Allow", m.allow);
        } else if (e instanceof StaticFiles.RangeNotSatisfiable n) {
            r.header("Content-Range", "bytes */" + n.size);
        }
        return r;
    }

    /**
     * Take received bytes and answer every request they complete.
     *
     * @return false once the connection is to be closed after {@link #output} is sent.
     */
    boolean receive(final byte[] b, final int off, final int len) {
        if (closing) {
            return false;
        }
        parser.feed(b, off, len);
        while (!closing) {
            final HttpRequest req;
            try {
                req = parser.next();
            } catch (final HttpException e) {
                write(error(e), false, true, false);
                closing = true;
                break;
            }
            if (req == null) {
                break;
            }
            requests++;
            final HttpResponse resp = handler.apply(req);
            final boolean close = !req.keepAlive() || resp.afterSend != null;
            write(resp, req.method().equals("HEAD"), close, req.minor() == 0);
            if (resp.afterSend != null) {
                afterSend.add(resp.afterSend);
            }
            if (close) {
                closing = true;
            }
        }
        return !closing;
    }

    /** The peer closed its side: nothing more will come. */
    boolean closing() {
        return closing;
    }

    /** {@code http10}: the request was HTTP/1.0, whose keep-alive must be announced. */
    private void write(final HttpResponse r, final boolean head, final boolean close, final boolean http10) {
        r.encode(out, head, close, http10 && !close,
            StaticFiles.HTTP_DATE.format(Instant.ofEpochSecond(0, epochNanos.getAsLong())));
    }

    OutBuffer output() {
        return out;
    }

    /** Actions to run now that everything before them has been sent; each is returned once. */
    List<Runnable> takeAfterSend() {
        final List<Runnable> r = List.copyOf(afterSend);
        afterSend.clear();
        return r;
    }

    /** Release what the connection still holds (files being streamed). Called once, when it closes. */
    void close() {
        out.close();
    }

    /**
     * The responses waiting to be sent, in order: bytes and streamed file bodies. {@code array()[readIndex(),
     * readIndex() + readable())} is the part ready to be sent now; once it is consumed, {@link #readable()}
     * refills it from what is queued behind it: the next chunk (up to {@link #CHUNK} bytes) of the file
     * being streamed, or the bytes written after it. So a file body never sits in the heap whole, and
     * responses pipelined behind it keep their order.
     *
     * <pre>
     *   buf [read, write)  ◀── refill ──  current FileBody  ◀──  queue: byte[] | FileBody ...  ◀── write / stream
     * </pre>
     *
     * Owned by one worker thread.
     */
    static final class OutBuffer implements EpollServer.Output, HttpResponse.ByteSink {
        /** Bytes of a file read into the buffer at a time. */
        static final int CHUNK = 64 * 1024;
        private byte[] buf = new byte[4096];
        private int read;
        private int write;
        /** The file whose chunks are being sent, or null. */
        private FileBody current;
        /** What follows {@code buf} and {@code current}: byte[] and FileBody, in order; null when empty. */
        private java.util.ArrayDeque<Object> queue;
        private boolean broken;

        @Override
        public void write(final byte[] b) {
            if (current != null || queue != null && !queue.isEmpty()) {
                queue().add(b);
                return;
            }
            append(b, 0, b.length);
        }

        @Override
        public void stream(final FileBody file) {
            queue().add(file);
        }

        private java.util.ArrayDeque<Object> queue() {
            if (queue == null) {
                queue = new java.util.ArrayDeque<>(4);
            }
            return queue;
        }

        private void append(final byte[] b, final int off, final int len) {
            if (write + len > buf.length) {
                final int live = write - read;
                final byte[] n = live + len <= buf.length ? buf : new byte[Math.max(buf.length * 2, live + len)];
                System.arraycopy(buf, read, n, 0, live);
                buf = n;
                read = 0;
                write = live;
            }
            System.arraycopy(b, off, buf, write, len);
            write += len;
        }

        /** True once a streamed file ended before its announced length: the connection must close. */
        boolean broken() {
            return broken;
        }

        /** Bytes held in the heap for this connection's output now (its buffer's capacity). */
        int capacity() {
            return buf.length;
        }

        @Override
        public byte[] array() {
            return buf;
        }

        @Override
        public int readIndex() {
            return read;
        }

        @Override
        public int readable() {
            if (read == write && !broken) {
                refill();
            }
            return write - read;
        }

        /** The buffer is empty: take the next chunk of the current file or the next queued item. */
        private void refill() {
            while (true) {
                if (current != null) {
                    if (buf.length < CHUNK) {
                        buf = new byte[CHUNK];
                    }
                    read = 0;
                    write = 0;
                    final int n = current.read(buf, 0, CHUNK);
                    if (n > 0) {
                        write = n;
                        return;
                    }
                    current = null;
                    if (n < 0) {
                        broken = true;
                        close();
                        return;
                    }
                }
                final Object next = queue == null ? null : queue.poll();
                if (next == null) {
                    return;
                }
                if (next instanceof FileBody f) {
                    current = f;
                } else {
                    final byte[] b = (byte[])next;
                    append(b, 0, b.length);
                    return;
                }
            }
        }

        @Override
        public void consume(final int n) {
            read += n;
            if (read == write) {
                read = 0;
                write = 0;
                if (buf.length > 1 << 20) {
                    buf = new byte[4096];
                }
            }
        }

        /** Close the files still queued or being streamed. */
        void close() {
            if (current != null) {
                current.close();
                current = null;
            }
            if (queue != null) {
                for (final Object o : queue) {
                    if (o instanceof FileBody f) {
                        f.close();
                    }
                }
                queue.clear();
            }
        }

        /** Everything pending, files included, consumed (tests). */
        byte[] drain() {
            final java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
            while (readable() > 0) {
                all.write(buf, read, write - read);
                consume(write - read);
            }
            return all.toByteArray();
        }
    }
}
