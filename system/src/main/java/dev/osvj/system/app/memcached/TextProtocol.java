package dev.osvj.system.app.memcached;

import java.util.Arrays;

/**
 * The memcached 1.6 text protocol for one connection, as an engine over bytes: {@link #receive} takes
 * whatever the socket delivered (any split, any number of pipelined requests) and appends the replies
 * to an {@link OutBuffer}; no I/O, no clock of its own (the store has it). Replies and error strings are
 * memcached's, byte for byte ({@code proto_text.c}).
 *
 * <p>States ({@link ProtocolEngine}): {@code REQUEST} is waiting for a line ending in LF (a trailing CR is
 * dropped); a storage command's value is copied with its CRLF straight into the item in guest memory
 * ({@code DATA}); {@code CLOSED} follows {@code quit} or a runaway line.
 *
 * <p>Single-threaded: one worker owns a connection and its engine.
 */
final class TextProtocol extends ProtocolEngine {
    static final String VERSION = "1.6.21";
    /** Without a newline in this many bytes, a line that is not a get is junk: close (memcached's rule). */
    private static final int LINE_LIMIT = 2048;
    /** Longest multiget line accepted. */
    private static final int GET_LINE_LIMIT = 8 << 20;
    /** memcached's MAX_TOKENS: more tokens than this make any command but get malformed. */
    private static final int MAX_TOKENS = 24;

    private int op;
    private long casUnique;
    private boolean noreply;

    private int[] tokStart = new int[32];
    private int[] tokLen = new int[32];
    private int count;
    private final long[] number = new long[2];

    TextProtocol(final ItemStore store, final ServerStats stats) {
        super(store, stats);
    }

    /** One command line (ending in LF; a trailing CR is dropped), or false while it is incomplete. */
    @Override
    boolean request(final OutBuffer out) {
        final int nl = indexOf(in, readPos, writePos, (byte)'\n');
        if (nl < 0) {
            final int avail = writePos - readPos;
            if (avail > LINE_LIMIT && !looksLikeGet() || avail > GET_LINE_LIMIT) {
                state = CLOSED;
            }
            return false;
        }
        int end = nl;
        if (nl - readPos > 1 && in[nl - 1] == '\r') {
            end--;
        }
        final int start = readPos;
        readPos = nl + 1;
        command(start, end, out);
        return true;
    }

    private static int indexOf(final byte[] b, final int from, final int to, final byte v) {
        for (int i = from; i < to; i++) {
            if (b[i] == v) {
                return i;
            }
        }
        return -1;
    }

    private boolean looksLikeGet() {
        int p = readPos;
        while (p < writePos && in[p] == ' ') {
            p++;
        }
        return p - readPos <= 100 && (startsWith(p, "get ") || startsWith(p, "gets "));
    }

    private boolean startsWith(final int p, final String s) {
        if (writePos - p < s.length()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (in[p + i] != s.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    // ---- tokens ------------------------------------------------------------------------------------

    private void tokenize(final int start, final int end) {
        count = 0;
        int s = start;
        for (int e = start; e <= end; e++) {
            if (e == end || in[e] == ' ') {
                if (e > s) {
                    if (count == tokStart.length) {
                        tokStart = Arrays.copyOf(tokStart, count * 2);
                        tokLen = Arrays.copyOf(tokLen, count * 2);
                    }
                    tokStart[count] = s;
                    tokLen[count] = e - s;
                    count++;
                }
                s = e + 1;
            }
        }
    }

    /** memcached's ntokens: the tokens (at most MAX_TOKENS - 1 of them) plus the terminal one. */
    private int ntokens() {
        return Math.min(count, MAX_TOKENS - 1) + 1;
    }

    private boolean is(final int t, final String s) {
        if (t >= count || tokLen[t] != s.length()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (in[tokStart[t] + i] != s.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private boolean lastIsNoreply() {
        return count >= 2 && count < MAX_TOKENS && is(count - 1, "noreply");
    }

    private void reply(final OutBuffer out, final String s) {
        if (!noreply) {
            out.put(s).crlf();
        }
    }

    // ---- commands ----------------------------------------------------------------------------------

    private void command(final int start, final int end, final OutBuffer out) {
        noreply = false;
        tokenize(start, end);
        final int n = ntokens();
        if (n < 2 || tokLen[0] < 2) {
            reply(out, "ERROR");
            return;
        }
        final byte first = in[tokStart[0]];
        if (first == 'g') {
            if (n < 3) {
                reply(out, "ERROR");
            } else if (is(0, "get")) {
                get(out, false, false);
            } else if (is(0, "gets")) {
                get(out, true, false);
            } else if (is(0, "gat")) {
                get(out, false, true);
            } else if (is(0, "gats")) {
                get(out, true, true);
            } else {
                reply(out, "ERROR");
            }
        } else if (is(0, "set")) {
            update(out, n, ItemStore.SET, 6, 7);
        } else if (is(0, "add")) {
            update(out, n, ItemStore.ADD, 6, 7);
        } else if (is(0, "replace")) {
            update(out, n, ItemStore.REPLACE, 6, 7);
        } else if (is(0, "append")) {
            update(out, n, ItemStore.APPEND, 6, 7);
        } else if (is(0, "prepend")) {
            update(out, n, ItemStore.PREPEND, 6, 7);
        } else if (is(0, "cas")) {
            update(out, n, ItemStore.CAS, 7, 8);
        } else if (is(0, "incr") || is(0, "decr")) {
            if (n != 4 && n != 5) {
                reply(out, "ERROR");
            } else {
                arithmetic(out, is(0, "incr"));
            }
        } else if (is(0, "delete")) {
            if (n < 3 || n > 5) {
                reply(out, "ERROR");
            } else {
                delete(out, n);
            }
        } else if (is(0, "touch")) {
            if (n != 4 && n != 5) {
                reply(out, "ERROR");
            } else {
                touch(out);
            }
        } else if (is(0, "stats")) {
            stats(out, n);
        } else if (is(0, "flush_all")) {
            if (n < 2 || n > 4) {
                reply(out, "ERROR");
            } else {
                flushAll(out, n);
            }
        } else if (is(0, "version")) {
            reply(out, "VERSION " + VERSION);
        } else if (is(0, "quit")) {
            state = CLOSED;
        } else if (is(0, "verbosity")) {
            if (n != 3 && n != 4) {
                reply(out, "ERROR");
            } else {
                verbosity(out);
            }
        } else if (is(0, "shutdown")) {
            reply(out, "ERROR: shutdown not enabled");
        } else {
            reply(out, "ERROR");
        }
    }

    private boolean keyTooLong(final int t) {
        return tokLen[t] > ItemStore.KEY_MAX_LENGTH;
    }

    private static int positive(final long exptime) {
        return (int)(exptime < 0 ? ItemStore.REALTIME_MAXDELTA + 1 : exptime);
    }

    private void get(final OutBuffer out, final boolean withCas, final boolean touch) {
        int key = 1;
        int exptime = 0;
        if (touch) {
            final long e = Numbers.strtol32(in, tokStart[1], tokLen[1]);
            if (e == Long.MIN_VALUE) {
                reply(out, "CLIENT_ERROR invalid exptime argument");
                return;
            }
            exptime = store.realtime(positive(e));
            key = 2;
        }
        for (int t = key; t < count; t++) {
            if (keyTooLong(t)) {
                reply(out, "CLIENT_ERROR bad command line format");
                return;
            }
            final boolean hit = store.get(in, tokStart[t], tokLen[t], out, withCas, touch, exptime);
            stats.prefixes.recordGet(in, tokStart[t], tokLen[t], hit);
        }
        out.put("END").crlf();
    }

    private void update(final OutBuffer out, final int n, final int command, final int want, final int wantNoreply) {
        if (n != want && n != wantNoreply) {
            reply(out, "ERROR");
            return;
        }
        noreply = lastIsNoreply();
        if (keyTooLong(1)) {
            reply(out, "CLIENT_ERROR bad command line format");
            return;
        }
        final long flags = Numbers.strtoul32(in, tokStart[2], tokLen[2]);
        final long exptime = Numbers.strtol32(in, tokStart[3], tokLen[3]);
        final long vlen = Numbers.strtol32(in, tokStart[4], tokLen[4]);
        if (flags < 0 || exptime == Long.MIN_VALUE || vlen == Long.MIN_VALUE) {
            reply(out, "CLIENT_ERROR bad command line format");
            return;
        }
        long cas = 0;
        if (command == ItemStore.CAS) {
            if (!Numbers.strtoull(in, tokStart[5], tokLen[5], number, false)) {
                reply(out, "CLIENT_ERROR bad command line format");
                return;
            }
            cas = number[0];
        }
        if (vlen < 0 || vlen > Integer.MAX_VALUE - 2) {
            reply(out, "CLIENT_ERROR bad command line format");
            return;
        }
        stats.prefixes.recordSet(in, tokStart[1], tokLen[1]);
        final int nbytes = (int)vlen + 2;
        final long it = store.allocate(in, tokStart[1], tokLen[1], (int)flags, store.realtime(positive(exptime)), nbytes);
        if (it < 0) {
            reply(out, it == ItemStore.TOO_LARGE ? "SERVER_ERROR object too large for cache"
                : "SERVER_ERROR out of memory storing object");
            if (command == ItemStore.SET) {
                store.delete(in, tokStart[1], tokLen[1]);
            }
            skip(nbytes);
            return;
        }
        op = command;
        casUnique = cas;
        receiveValue(it, nbytes);
    }

    @Override
    void completeValue(final OutBuffer out) {
        final long it = takeItem();
        if (!store.endsWithCrlf(it)) {
            store.discard(it);
            reply(out, "CLIENT_ERROR bad data chunk");
            return;
        }
        switch (store.store(it, op, casUnique)) {
            case ItemStore.STORED -> reply(out, "STORED");
            case ItemStore.EXISTS -> reply(out, "EXISTS");
            case ItemStore.NOT_FOUND -> reply(out, "NOT_FOUND");
            default -> reply(out, "NOT_STORED");
        }
    }

    private void arithmetic(final OutBuffer out, final boolean incr) {
        noreply = lastIsNoreply();
        if (keyTooLong(1)) {
            reply(out, "CLIENT_ERROR bad command line format");
            return;
        }
        if (!Numbers.strtoull(in, tokStart[2], tokLen[2], number, false)) {
            reply(out, "CLIENT_ERROR invalid numeric delta argument");
            return;
        }
        switch (store.delta(in, tokStart[1], tokLen[1], incr, number[0], number)) {
            case ItemStore.DELTA_OK -> reply(out, Long.toUnsignedString(number[0]));
            case ItemStore.NON_NUMERIC -> reply(out, "CLIENT_ERROR cannot increment or decrement non-numeric value");
            case ItemStore.DELTA_NO_MEMORY -> reply(out, "SERVER_ERROR out of memory");
            default -> reply(out, "NOT_FOUND");
        }
    }

    private void delete(final OutBuffer out, final int n) {
        if (n > 3) {
            final boolean holdIsZero = is(2, "0");
            final boolean setsNoreply = lastIsNoreply();
            noreply = setsNoreply;
            final boolean valid = (n == 4 && (holdIsZero || setsNoreply)) || (n == 5 && holdIsZero && setsNoreply);
            if (!valid) {
                reply(out, "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]");
                return;
            }
        }
        if (keyTooLong(1)) {
            reply(out, "CLIENT_ERROR bad command line format");
            return;
        }
        stats.prefixes.recordDelete(in, tokStart[1], tokLen[1]);
        reply(out, store.delete(in, tokStart[1], tokLen[1]) ? "DELETED" : "NOT_FOUND");
    }

    private void touch(final OutBuffer out) {
        noreply = lastIsNoreply();
        if (keyTooLong(1)) {
            reply(out, "CLIENT_ERROR bad command line format");
            return;
        }
        final long e = Numbers.strtol32(in, tokStart[2], tokLen[2]);
        if (e == Long.MIN_VALUE) {
            reply(out, "CLIENT_ERROR invalid exptime argument");
            return;
        }
        reply(out, store.touch(in, tokStart[1], tokLen[1], store.realtime(positive(e))) ? "TOUCHED" : "NOT_FOUND");
    }

    private void flushAll(final OutBuffer out, final int n) {
        noreply = lastIsNoreply();
        long delay = 0;
        if (n != (noreply ? 3 : 2)) {
            delay = Numbers.strtol32(in, tokStart[1], tokLen[1]);
            if (delay == Long.MIN_VALUE) {
                reply(out, "CLIENT_ERROR bad command line format");
                return;
            }
        }
        store.flushAll(delay);
        reply(out, "OK");
    }

    /** {@code verbosity <level> [noreply]}; an unparsable level is ignored ("verbosity noreply" is silent). */
    private void verbosity(final OutBuffer out) {
        noreply = lastIsNoreply();
        final long level = Numbers.strtoul32(in, tokStart[1], tokLen[1]);
        if (level >= 0) {
            stats.verbosity.set((int)Math.min(level, 2));
        }
        reply(out, "OK");
    }

    /**
     * {@code stats detail on|off|dump} (memcached's {@code process_stats_detail}): on and off answer OK,
     * dump lists the per-prefix counts ({@link PrefixStats}); anything else, or no argument, is the usage
     * error. Extra tokens after the argument are ignored, as memcached does.
     */
    private void detail(final OutBuffer out, final int n) {
        if (n >= 4 && is(2, "on")) {
            stats.prefixes.setEnabled(true);
            reply(out, "OK");
        } else if (n >= 4 && is(2, "off")) {
            stats.prefixes.setEnabled(false);
            reply(out, "OK");
        } else if (n >= 4 && is(2, "dump")) {
            stats.prefixes.dump(out);
        } else {
            reply(out, "CLIENT_ERROR usage: stats detail on|off|dump");
        }
    }

    private void stats(final OutBuffer out, final int n) {
        if (n == 2) {
            stats.appendGeneral(out, store);
        } else if (is(1, "reset")) {
            store.resetStats();
            stats.prefixes.clear();
            reply(out, "RESET");
        } else if (is(1, "detail")) {
            detail(out, n);
        } else if (is(1, "settings")) {
            stats.appendSettings(out);
        } else if (is(1, "items")) {
            store.appendItems(out);
            out.put("END").crlf();
        } else if (is(1, "slabs")) {
            store.appendSlabs(out);
            out.put("END").crlf();
        } else if (is(1, "sizes")) {
            out.put("STAT sizes_status disabled").crlf().put("END").crlf();
        } else {
            reply(out, "ERROR");
        }
    }
}
