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
                write(error(e), false, true);
                closing = true;
                break;
            }
            if (req == null) {
                break;
            }
            requests++;
            final HttpResponse resp = handler.apply(req);
            final boolean close = !req.keepAlive() || resp.afterSend != null;
            write(resp, req.method().equals("HEAD"), close);
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

    private void write(final HttpResponse r, final boolean head, final boolean close) {
        r.encode(out::write, head, close,
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

    /** Bytes waiting to be sent, readable from {@code array()[readIndex(), readIndex()+readable())}. */
    static final class OutBuffer implements EpollServer.Output {
        private byte[] buf = new byte[4096];
        private int read;
        private int write;

        void write(final byte[] b) {
            if (write + b.length > buf.length) {
                final int live = write - read;
                final byte[] n = live + b.length <= buf.length ? buf : new byte[Math.max(buf.length * 2, live + b.length)];
                System.arraycopy(buf, read, n, 0, live);
                buf = n;
                read = 0;
                write = live;
            }
            System.arraycopy(b, 0, buf, write, b.length);
            write += b.length;
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
            return write - read;
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

        /** Everything pending, consumed (tests). */
        byte[] drain() {
            final byte[] b = java.util.Arrays.copyOfRange(buf, read, write);
            consume(readable());
            return b;
        }
    }
}
