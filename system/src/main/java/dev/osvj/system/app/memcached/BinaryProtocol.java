package dev.osvj.system.app.memcached;

import java.nio.charset.StandardCharsets;

import static dev.osvj.system.app.memcached.BinaryHeader.i32;
import static dev.osvj.system.app.memcached.BinaryHeader.i64;
import static dev.osvj.system.app.memcached.BinaryHeader.u16;
import static dev.osvj.system.app.memcached.BinaryHeader.u8;

/**
 * memcached 1.6's binary protocol for one connection ({@code proto_bin.c}), as an engine over bytes like
 * {@link TextProtocol}: {@link #receive} takes whatever the socket delivered and appends the response
 * packets ({@link BinaryHeader}) to an {@link OutBuffer}. Status codes, error texts, which responses the
 * quiet commands suppress, the CAS in each response and the connection closes follow memcached:
 *
 * <ul>
 *   <li>a request is dispatched once its header, extras and key are buffered; a storage command's value
 *       is then copied straight into the item in guest memory ({@code DATA}), a refused one's value is
 *       skipped ({@code SWALLOW});</li>
 *   <li>quiet commands (setq, addq, replaceq, deleteq, incrq, decrq, appendq, prependq, flushq, quitq)
 *       send nothing on success but still send errors; getq/getkq/gatq/gatkq send hits only;</li>
 *   <li>a bad magic byte closes the connection without a reply; lengths that do not add up, a key over
 *       250 bytes or a command's wrong extras/key/body shape answer {@code EINVAL} (or
 *       {@code UNKNOWN_COMMAND} for inconsistent lengths) and close; an unknown opcode answers
 *       {@code UNKNOWN_COMMAND} and skips the rest of its body (memcached skips {@code bodylen} bytes
 *       after the extras and key, which eats into the next request: we skip only the body);</li>
 *   <li>set/add/replace with a non-zero CAS are compare-and-swap; append/prepend/delete/incr/decr check
 *       a non-zero CAS too; successful stores and arithmetic answer the item's new CAS; incr/decr of a
 *       missing key store the initial value unless the expiration is {@code 0xffffffff};</li>
 *   <li>stat answers one packet per statistic (key = name, value = text) and an empty terminator,
 *       for "" (general), {@code settings}, {@code items}, {@code slabs}, {@code sizes}, {@code reset};
 *       SASL is not offered (its opcodes answer {@code UNKNOWN_COMMAND}).</li>
 * </ul>
 *
 * <p>Single-threaded: one worker owns a connection and its engine.
 */
final class BinaryProtocol extends ProtocolEngine {
    private static final byte[] VERSION = TextProtocol.VERSION.getBytes(StandardCharsets.US_ASCII);
    private static final byte[] CRLF = {'\r', '\n'};
    /** An incr/decr expiration that means "do not create a missing item". */
    private static final int NO_CREATE = 0xFFFF_FFFF;

    // The request being handled (valid from its dispatch until the next header).
    private int opcode;
    /** The opcode with the quiet forms mapped to their plain ones (memcached's {@code c->cmd}). */
    private int cmd;
    private boolean noreply;
    private int keyLength;
    private int extrasLength;
    private long bodyLength;
    private int opaque;
    private long cas;
    /** Offsets of the extras and the key in {@code in}; valid only while the request is dispatched. */
    private int extrasAt;
    private int keyAt;

    /** The store operation of the storage command whose value is being received. */
    private int storeOp;

    private final long[] number = new long[2];
    private OutBuffer statsText;

    BinaryProtocol(final ItemStore store, final ServerStats stats) {
        super(store, stats);
    }

    /** One request: dispatched once its header, extras and key are buffered (the value may follow). */
    @Override
    boolean request(final OutBuffer out) {
        final int avail = writePos - readPos;
        if (avail < BinaryHeader.LENGTH) {
            return false;
        }
        final int h = readPos;
        if (u8(in, h + BinaryHeader.MAGIC) != BinaryHeader.REQUEST_MAGIC) {
            state = CLOSED;
            return false;
        }
        extrasLength = u8(in, h + BinaryHeader.EXTRAS_LENGTH);
        keyLength = u16(in, h + BinaryHeader.KEY_LENGTH);
        if (avail < BinaryHeader.LENGTH + extrasLength + keyLength) {
            return false;
        }
        opcode = u8(in, h + BinaryHeader.OPCODE);
        bodyLength = Integer.toUnsignedLong(i32(in, h + BinaryHeader.BODY_LENGTH));
        opaque = i32(in, h + BinaryHeader.OPAQUE);
        cas = i64(in, h + BinaryHeader.CAS);
        extrasAt = h + BinaryHeader.LENGTH;
        keyAt = extrasAt + extrasLength;
        readPos = keyAt + keyLength;
        dispatch(out);
        return true;
    }

    // ---- replies -----------------------------------------------------------------------------------

    /** memcached's {@code write_bin_response}: suppressed for quiet commands (except get/getk). */
    private boolean replies() {
        return !noreply || cmd == BinaryHeader.GET || cmd == BinaryHeader.GETK;
    }

    private void success(final OutBuffer out, final long itemCas) {
        if (replies()) {
            BinaryHeader.putResponse(out, opcode, 0, 0, BinaryHeader.SUCCESS, 0, opaque, itemCas);
        }
    }

    /** memcached's {@code write_bin_error}: sent even for quiet commands, CAS 0, the status's text as body. */
    private void error(final OutBuffer out, final int status) {
        error(out, status, BinaryHeader.message(status));
    }

    private void error(final OutBuffer out, final int status, final String text) {
        BinaryHeader.putResponse(out, opcode, 0, 0, status, text.length(), opaque, 0);
        out.put(text);
    }

    /** {@code EINVAL} and close once it is sent (memcached's {@code handle_binary_protocol_error}). */
    private void protocolError(final OutBuffer out) {
        error(out, BinaryHeader.EINVAL);
        state = CLOSED;
    }

    // ---- dispatch ----------------------------------------------------------------------------------

    private void dispatch(final OutBuffer out) {
        final int ext = extrasLength;
        final int key = keyLength;
        final long body = bodyLength;
        if (key > body || key + ext > body) {
            error(out, BinaryHeader.UNKNOWN_COMMAND);
            state = CLOSED;
            return;
        }
        if (key > ItemStore.KEY_MAX_LENGTH) {
            protocolError(out);
            return;
        }
        noreply = true;
        cmd = switch (opcode) {
            case BinaryHeader.SETQ -> BinaryHeader.SET;
            case BinaryHeader.ADDQ -> BinaryHeader.ADD;
            case BinaryHeader.REPLACEQ -> BinaryHeader.REPLACE;
            case BinaryHeader.DELETEQ -> BinaryHeader.DELETE;
            case BinaryHeader.INCREMENTQ -> BinaryHeader.INCREMENT;
            case BinaryHeader.DECREMENTQ -> BinaryHeader.DECREMENT;
            case BinaryHeader.QUITQ -> BinaryHeader.QUIT;
            case BinaryHeader.FLUSHQ -> BinaryHeader.FLUSH;
            case BinaryHeader.APPENDQ -> BinaryHeader.APPEND;
            case BinaryHeader.PREPENDQ -> BinaryHeader.PREPEND;
            case BinaryHeader.GETQ -> BinaryHeader.GET;
            case BinaryHeader.GETKQ -> BinaryHeader.GETK;
            case BinaryHeader.GATQ -> BinaryHeader.GAT;
            case BinaryHeader.GATKQ -> BinaryHeader.GATK;
            default -> {
                noreply = false;
                yield opcode;
            }
        };
        final boolean ok;
        switch (cmd) {
            case BinaryHeader.VERSION -> {
                ok = ext == 0 && key == 0 && body == 0;
                if (ok) {
                    BinaryHeader.putResponse(out, opcode, 0, 0, BinaryHeader.SUCCESS, VERSION.length, opaque, 0);
                    out.put(VERSION);
                }
            }
            case BinaryHeader.FLUSH -> {
                ok = key == 0 && body == ext && (ext == 0 || ext == 4);
                if (ok) {
                    store.flushAll(ext == 4 ? Integer.toUnsignedLong(i32(in, extrasAt)) : 0);
                    success(out, 0);
                }
            }
            case BinaryHeader.NOOP -> {
                ok = ext == 0 && key == 0 && body == 0;
                if (ok) {
                    success(out, 0);
                }
            }
            case BinaryHeader.SET, BinaryHeader.ADD, BinaryHeader.REPLACE -> {
                ok = ext == 8 && key != 0 && body >= key + 8;
                if (ok) {
                    int op = cmd == BinaryHeader.SET ? ItemStore.SET : cmd == BinaryHeader.ADD ? ItemStore.ADD
                        : ItemStore.REPLACE;
                    if (cas != 0) {
                        op = ItemStore.CAS;
                    }
                    receiveValue(out, op, i32(in, extrasAt), Integer.toUnsignedLong(i32(in, extrasAt + 4)),
                        body - key - ext);
                }
            }
            case BinaryHeader.APPEND, BinaryHeader.PREPEND -> {
                ok = key > 0 && ext == 0;
                if (ok) {
                    receiveValue(out, cmd == BinaryHeader.APPEND ? ItemStore.APPEND : ItemStore.PREPEND, 0, 0,
                        body - key);
                }
            }
            case BinaryHeader.GET, BinaryHeader.GETK -> {
                ok = ext == 0 && body == key && key > 0;
                if (ok) {
                    getOrTouch(out);
                }
            }
            case BinaryHeader.TOUCH, BinaryHeader.GAT, BinaryHeader.GATK -> {
                ok = ext == 4 && key != 0;
                if (ok) {
                    getOrTouch(out);
                }
            }
            case BinaryHeader.DELETE -> {
                ok = key > 0 && ext == 0 && body == key;
                if (ok) {
                    delete(out);
                }
            }
            case BinaryHeader.INCREMENT, BinaryHeader.DECREMENT -> {
                ok = key > 0 && ext == 20 && body == key + ext;
                if (ok) {
                    arithmetic(out);
                }
            }
            case BinaryHeader.STAT -> {
                ok = ext == 0;
                if (ok) {
                    stat(out);
                }
            }
            case BinaryHeader.QUIT -> {
                ok = key == 0 && ext == 0 && body == 0;
                if (ok) {
                    success(out, 0);
                    state = CLOSED;
                }
            }
            case BinaryHeader.SASL_LIST_MECHS -> {
                ok = ext == 0 && key == 0 && body == 0;
                if (ok) {
                    error(out, BinaryHeader.UNKNOWN_COMMAND);
                }
            }
            case BinaryHeader.SASL_AUTH, BinaryHeader.SASL_STEP -> {
                ok = ext == 0 && key != 0;
                if (ok) {
                    error(out, BinaryHeader.UNKNOWN_COMMAND);
                    skip(body - key);
                }
            }
            default -> {
                ok = true;
                error(out, BinaryHeader.UNKNOWN_COMMAND);
                skip(body - key - ext);
            }
        }
        if (!ok) {
            protocolError(out);
        }
    }

    // ---- commands ----------------------------------------------------------------------------------

    /**
     * Allocate the item for a storage command and start copying its value into it; a value the store
     * refuses is skipped after {@code E2BIG} or {@code ENOMEM} (and a failed set also drops the key's
     * old value, as memcached does, so no stale data survives).
     */
    private void receiveValue(final OutBuffer out, final int op, final int flags, final long exptime, final long vlen) {
        stats.prefixes.recordSet(in, keyAt, keyLength);
        final long it = vlen > Integer.MAX_VALUE - 2 ? ItemStore.TOO_LARGE
            : store.allocate(in, keyAt, keyLength, flags, store.realtime(exptime), (int)vlen + 2);
        if (it < 0) {
            if (it == ItemStore.TOO_LARGE) {
                error(out, BinaryHeader.E2BIG);
            } else {
                error(out, BinaryHeader.ENOMEM, "Out of memory allocating item");
            }
            if (cmd == BinaryHeader.SET) {
                store.delete(in, keyAt, keyLength);
            }
            skip(vlen);
            return;
        }
        storeOp = op;
        receiveValue(it, (int)vlen);
    }

    /**
     * The value is in the item: add memcached's CRLF (the item has room for it behind the value), store
     * it, answer (memcached's {@code complete_update_bin}).
     */
    @Override
    void completeValue(final OutBuffer out) {
        final long it = takeItem();
        store.writeValue(it, itemBytes, CRLF, 0, 2);
        switch (store.store(it, storeOp, cas, number)) {
            case ItemStore.STORED -> success(out, number[0]);
            case ItemStore.EXISTS -> error(out, BinaryHeader.KEY_EEXISTS);
            case ItemStore.NOT_FOUND -> error(out, BinaryHeader.KEY_ENOENT);
            default -> error(out, storeOp == ItemStore.ADD ? BinaryHeader.KEY_EEXISTS
                : storeOp == ItemStore.REPLACE ? BinaryHeader.KEY_ENOENT : BinaryHeader.NOT_STORED);
        }
    }

    private void getOrTouch(final OutBuffer out) {
        final boolean touch = cmd == BinaryHeader.TOUCH || cmd == BinaryHeader.GAT || cmd == BinaryHeader.GATK;
        final boolean returnKey = cmd == BinaryHeader.GETK || cmd == BinaryHeader.GATK;
        final int exptime = touch ? store.realtime(Integer.toUnsignedLong(i32(in, extrasAt))) : 0;
        final boolean hit = store.getBinary(in, keyAt, keyLength, out, opcode, opaque, returnKey,
            cmd != BinaryHeader.TOUCH, touch, exptime);
        stats.prefixes.recordGet(in, keyAt, keyLength, hit);
        if (hit || noreply) {
            return;
        }
        if (returnKey) {
            BinaryHeader.putResponse(out, opcode, keyLength, 0, BinaryHeader.KEY_ENOENT, keyLength, opaque, 0);
            out.put(in, keyAt, keyLength);
        } else {
            error(out, BinaryHeader.KEY_ENOENT);
        }
    }

    private void delete(final OutBuffer out) {
        stats.prefixes.recordDelete(in, keyAt, keyLength);
        switch (store.delete(in, keyAt, keyLength, cas)) {
            case ItemStore.DELETED -> success(out, 0);
            case ItemStore.EXISTS -> error(out, BinaryHeader.KEY_EEXISTS);
            default -> error(out, BinaryHeader.KEY_ENOENT);
        }
    }

    /** incr/decr (memcached's {@code complete_incr_bin}): extras are delta u64, initial u64, expiration u32. */
    private void arithmetic(final OutBuffer out) {
        final long delta = i64(in, extrasAt);
        final long initial = i64(in, extrasAt + 8);
        final int expiration = i32(in, extrasAt + 16);
        switch (store.delta(in, keyAt, keyLength, cmd == BinaryHeader.INCREMENT, delta, cas, number)) {
            case ItemStore.DELTA_OK -> value(out, number[0], number[1]);
            case ItemStore.NON_NUMERIC -> error(out, BinaryHeader.DELTA_BADVAL);
            case ItemStore.DELTA_NO_MEMORY -> error(out, BinaryHeader.ENOMEM, "Out of memory incrementing value");
            case ItemStore.DELTA_CAS_MISMATCH -> error(out, BinaryHeader.KEY_EEXISTS);
            default -> {
                if (expiration == NO_CREATE) {
                    error(out, BinaryHeader.KEY_ENOENT);
                    return;
                }
                final byte[] digits = Long.toUnsignedString(initial).getBytes(StandardCharsets.US_ASCII);
                final long it = store.allocate(in, keyAt, keyLength, 0,
                    store.realtime(Integer.toUnsignedLong(expiration)), digits.length + 2);
                if (it < 0) {
                    error(out, BinaryHeader.ENOMEM, "Out of memory allocating new item");
                    return;
                }
                store.writeValue(it, 0, digits, 0, digits.length);
                store.writeValue(it, digits.length, CRLF, 0, 2);
                if (store.store(it, ItemStore.ADD, 0, number) == ItemStore.STORED) {
                    value(out, initial, number[0]);
                } else {
                    error(out, BinaryHeader.NOT_STORED);
                }
            }
        }
    }

    private void value(final OutBuffer out, final long value, final long itemCas) {
        if (replies()) {
            BinaryHeader.putResponse(out, opcode, 0, 0, BinaryHeader.SUCCESS, 8, opaque, itemCas);
            out.putLongBE(value);
        }
    }

    /**
     * stat [group]: the text protocol's statistics, one packet each (key = name, value = its text), then
     * the empty terminator; an unknown group answers {@code KEY_ENOENT}.
     */
    private void stat(final OutBuffer out) {
        final String group = new String(in, keyAt, keyLength, StandardCharsets.US_ASCII);
        if (statsText == null) {
            statsText = new OutBuffer(4096);
        }
        final OutBuffer text = statsText;
        text.consume(text.readable());
        if (group.isEmpty()) {
            stats.appendGeneral(text, store);
        } else if (group.startsWith("reset")) {
            store.resetStats();
        } else if (group.startsWith("settings")) {
            stats.appendSettings(text);
        } else if (group.equals("items")) {
            store.appendItems(text);
        } else if (group.equals("slabs")) {
            store.appendSlabs(text);
        } else if (group.equals("sizes")) {
            text.put("STAT sizes_status disabled").crlf();
        } else {
            error(out, BinaryHeader.KEY_ENOENT);
            return;
        }
        final byte[] lines = text.array();
        final int end = text.readIndex() + text.readable();
        int p = text.readIndex();
        while (p < end) {
            int eol = p;
            while (eol < end && lines[eol] != '\r') {
                eol++;
            }
            if (eol - p > 5 && lines[p] == 'S' && lines[p + 1] == 'T' && lines[p + 2] == 'A' && lines[p + 3] == 'T'
                && lines[p + 4] == ' ') {
                final int name = p + 5;
                int sp = name;
                while (sp < eol && lines[sp] != ' ') {
                    sp++;
                }
                final int valueAt = Math.min(sp + 1, eol);
                BinaryHeader.putResponse(out, opcode, sp - name, 0, BinaryHeader.SUCCESS,
                    (sp - name) + (eol - valueAt), opaque, 0);
                out.put(lines, name, sp - name).put(lines, valueAt, eol - valueAt);
            }
            p = eol + 2;
        }
        text.consume(text.readable());
        BinaryHeader.putResponse(out, opcode, 0, 0, BinaryHeader.SUCCESS, 0, opaque, 0);
    }
}
