package dev.osvj.system.app.memcached;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * memcached 1.6's binary protocol on literal request and response bytes: statuses, error texts, CAS in
 * responses, quiet commands, connection closes ({@code proto_bin.c} is the reference).
 */
class BinaryProtocolTest extends StoreTestSupport {
    private static final HexFormat HEX = HexFormat.of();
    private static final int OPAQUE = 0xdeadbeef;
    private Session client;

    /** One connection's engine. */
    private final class Session {
        final BinaryProtocol engine = new BinaryProtocol(store, Fixture.stats());
        final OutBuffer out = new OutBuffer(64);
        boolean open = true;

        byte[] send(final byte[] request) {
            open = engine.receive(request, 0, request.length, out);
            return out.drain();
        }

        List<Response> call(final byte[] request) {
            return Response.parseAll(send(request));
        }

        Response one(final byte[] request) {
            final List<Response> all = call(request);
            assertEquals(1, all.size(), all.toString());
            return all.get(0);
        }
    }

    /** A response packet, parsed. */
    private record Response(int magic, int opcode, int status, int extrasLength, long cas, int opaque, byte[] extras,
        byte[] key, byte[] value) {
        static List<Response> parseAll(final byte[] bytes) {
            final ByteBuffer b = ByteBuffer.wrap(bytes);
            final List<Response> all = new ArrayList<>();
            while (b.hasRemaining()) {
                final int magic = b.get() & 0xFF;
                final int opcode = b.get() & 0xFF;
                final int keyLength = b.getShort() & 0xFFFF;
                final int extrasLength = b.get() & 0xFF;
                assertEquals(0, b.get(), "data type");
                final int status = b.getShort() & 0xFFFF;
                final int body = b.getInt();
                final int opaque = b.getInt();
                final long cas = b.getLong();
                final byte[] extras = new byte[extrasLength];
                final byte[] key = new byte[keyLength];
                final byte[] value = new byte[body - extrasLength - keyLength];
                b.get(extras).get(key).get(value);
                all.add(new Response(magic, opcode, status, extrasLength, cas, opaque, extras, key, value));
            }
            return all;
        }

        String text() {
            return new String(value, StandardCharsets.ISO_8859_1);
        }

        @Override
        public String toString() {
            return "Response[op=" + opcode + " status=" + status + " cas=" + cas + " key=" + new String(key,
                StandardCharsets.ISO_8859_1) + " value=" + text() + "]";
        }
    }

    /** A request with the given extras, key and value (opaque 0xdeadbeef). */
    private static byte[] request(final int opcode, final long cas, final byte[] extras, final String key, final byte[] value) {
        final byte[] k = key.getBytes(StandardCharsets.ISO_8859_1);
        final ByteBuffer b = ByteBuffer.allocate(24 + extras.length + k.length + value.length);
        b.put((byte)0x80).put((byte)opcode).putShort((short)k.length).put((byte)extras.length).put((byte)0)
            .putShort((short)0).putInt(extras.length + k.length + value.length).putInt(OPAQUE).putLong(cas)
            .put(extras).put(k).put(value);
        return b.array();
    }

    private static byte[] request(final int opcode, final String key) {
        return request(opcode, 0, new byte[0], key, new byte[0]);
    }

    private static byte[] storage(final int opcode, final long cas, final String key, final String value,
        final int flags, final int exptime) {
        return request(opcode, cas, ByteBuffer.allocate(8).putInt(flags).putInt(exptime).array(), key,
            value.getBytes(StandardCharsets.ISO_8859_1));
    }

    private static byte[] arithmetic(final int opcode, final long cas, final String key, final long delta,
        final long initial, final int expiration) {
        return request(opcode, cas, ByteBuffer.allocate(20).putLong(delta).putLong(initial).putInt(expiration).array(),
            key, new byte[0]);
    }

    private static byte[] concat(final byte[]... parts) {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (final byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static byte[] hex(final String s) {
        return HEX.parseHex(s.replace(" ", ""));
    }

    @BeforeEach
    void connect() {
        client = new Session();
    }

    @Test
    void shouldAnswerNoopVersionAndQuitWithLiteralPackets() {
        // noop, opaque 01020304 echoed, everything else zero
        assertArrayEquals(hex("810a0000 00000000 00000000 01020304 0000000000000000"),
            client.send(hex("800a0000 00000000 00000000 01020304 0000000000000000")));
        // version: body "1.6.21"
        assertArrayEquals(hex("810b0000 00000000 00000006 00000007 0000000000000000 312e362e3231"),
            client.send(hex("800b0000 00000000 00000000 00000007 0000000000000000")));
        // quit answers, then the connection closes
        assertArrayEquals(hex("81070000 00000000 00000000 00000009 0000000000000000"),
            client.send(hex("80070000 00000000 00000000 00000009 0000000000000000")));
        assertFalse(client.open);
    }

    @Test
    void shouldSetAndGetWithFlagsAndTheItemsCas() {
        // set "k" = "abc", flags 0xcafe0001, exptime 0
        final byte[] set = hex("80010001 08000000 0000000c deadbeef 0000000000000000 cafe0001 00000000 6b 616263");
        assertArrayEquals(hex("81010000 00000000 00000000 deadbeef 0000000000000001"), client.send(set));
        // get "k": extras = flags, value without CRLF, CAS 1
        assertArrayEquals(hex("81000000 04000000 00000007 deadbeef 0000000000000001 cafe0001 616263"),
            client.send(hex("80000001 00000000 00000001 deadbeef 0000000000000000 6b")));
        // getk returns the key too
        assertArrayEquals(hex("810c0001 04000000 00000008 deadbeef 0000000000000001 cafe0001 6b 616263"),
            client.send(hex("800c0001 00000000 00000001 deadbeef 0000000000000000 6b")));
        // a miss: "Not found", CAS 0; getk's miss carries the key and no text
        assertArrayEquals(hex("81000000 00000001 00000009 deadbeef 0000000000000000 4e6f7420666f756e64"),
            client.send(hex("80000001 00000000 00000001 deadbeef 0000000000000000 7a")));
        assertArrayEquals(hex("810c0001 00000001 00000001 deadbeef 0000000000000000 7a"),
            client.send(hex("800c0001 00000000 00000001 deadbeef 0000000000000000 7a")));
        // a text connection sees the same item, flags and CAS
        final TextProtocol text = new TextProtocol(store, Fixture.stats());
        final OutBuffer out = new OutBuffer(64);
        final byte[] gets = Fixture.ascii("gets k\r\n");
        text.receive(gets, 0, gets.length, out);
        assertEquals("VALUE k 3405643777 3 1\r\nabc\r\nEND\r\n", Fixture.text(out.drain()));
    }

    @Test
    void shouldKeepQuietCommandsQuietUnlessTheyFail() {
        // setq, getq miss, getkq miss: nothing; then noop answers
        final List<Response> replies = client.call(concat(storage(0x11, 0, "q", "v", 0, 0), request(0x09, "nope"),
            request(0x0d, "nope"), request(0x0a, "")));
        assertEquals(1, replies.size(), replies.toString());
        assertEquals(0x0a, replies.get(0).opcode());
        // getq and getkq hits answer
        final List<Response> hits = client.call(concat(request(0x09, "q"), request(0x0d, "q"), request(0x0a, "")));
        assertEquals(3, hits.size(), hits.toString());
        assertEquals("v", hits.get(0).text());
        assertEquals("q", new String(hits.get(1).key(), StandardCharsets.US_ASCII));
        // addq on an existing key fails: the error is sent
        final Response exists = client.one(storage(0x12, 0, "q", "w", 0, 0));
        assertEquals(0x12, exists.opcode());
        assertEquals(0x0002, exists.status());
        assertEquals("Data exists for key.", exists.text());
        assertEquals(0, exists.cas());
        // deleteq of a missing key: Not found is sent; of an existing one: nothing
        assertEquals(0x0001, client.one(request(0x14, "missing")).status());
        assertEquals(0, client.call(request(0x14, "q")).size());
        // quitq closes without a word
        assertEquals(0, client.send(request(0x17, "")).length);
        assertFalse(client.open);
    }

    @Test
    void shouldMapStoreResultsAndCasLikeMemcached() {
        assertEquals(0x0001, client.one(storage(0x03, 0, "r", "x", 0, 0)).status(), "replace of a missing key");
        assertEquals("Not found", client.one(storage(0x03, 0, "r", "x", 0, 0)).text());
        final Response added = client.one(storage(0x02, 0, "r", "one", 7, 0));
        assertEquals(0, added.status());
        assertTrue(added.cas() != 0);
        assertEquals(0x0002, client.one(storage(0x02, 0, "r", "two", 0, 0)).status(), "add of an existing key");
        assertEquals(0x0002, client.one(storage(0x01, added.cas() + 100, "r", "two", 0, 0)).status(), "stale CAS");
        final Response swapped = client.one(storage(0x01, added.cas(), "r", "two", 0, 0));
        assertEquals(0, swapped.status(), "set with the right CAS");
        assertTrue(swapped.cas() > added.cas());
        assertEquals(0x0001, client.one(storage(0x01, 5, "absent", "x", 0, 0)).status(), "CAS on a missing key");
        assertEquals(0x0002, client.one(storage(0x03, added.cas(), "r", "x", 0, 0)).status(), "replace with an old CAS");
        // append/prepend: extras-less, CAS checked when given, NOT_STORED on a missing key
        final Response appended = client.one(request(0x0e, 0, new byte[0], "r", "end".getBytes(StandardCharsets.US_ASCII)));
        assertEquals(0, appended.status());
        assertTrue(appended.cas() > swapped.cas());
        assertEquals(0, client.one(request(0x0f, appended.cas(), new byte[0], "r", "<".getBytes(StandardCharsets.US_ASCII))).status());
        assertEquals(0x0002, client.one(request(0x0f, 1, new byte[0], "r", "<".getBytes(StandardCharsets.US_ASCII))).status());
        final Response missing = client.one(request(0x0e, 0, new byte[0], "nokey", "x".getBytes(StandardCharsets.US_ASCII)));
        assertEquals(0x0005, missing.status());
        assertEquals("Not stored.", missing.text());
        final Response got = client.one(request(0x00, "r"));
        assertEquals("<twoend", got.text());
        assertArrayEquals(new byte[] {0, 0, 0, 0}, got.extras(), "append keeps the flags of the set (0)");
        // delete with a wrong CAS leaves the item; with the right one removes it
        assertEquals(0x0002, client.one(request(0x04, 1, new byte[0], "r", new byte[0])).status());
        final Response deleted = client.one(request(0x04, got.cas(), new byte[0], "r", new byte[0]));
        assertEquals(0, deleted.status());
        assertEquals(0, deleted.cas());
        assertEquals(0x0001, client.one(request(0x04, "r")).status());
    }

    @Test
    void shouldIncrementAndDecrementWithInitialValuesAndWrapRules() {
        // missing key with expiration 0xffffffff: Not found; otherwise created with the initial value
        assertEquals(0x0001, client.one(arithmetic(0x05, 0, "n", 1, 5, 0xFFFFFFFF)).status());
        final Response created = client.one(arithmetic(0x05, 0, "n", 1, 5, 0));
        assertArrayEquals(hex("0000000000000005"), created.value());
        assertTrue(created.cas() != 0);
        final Response incremented = client.one(arithmetic(0x05, 0, "n", 10, 0, 0));
        assertArrayEquals(hex("000000000000000f"), incremented.value());
        assertTrue(incremented.cas() > created.cas());
        assertArrayEquals(hex("0000000000000000"), client.one(arithmetic(0x06, 0, "n", 100, 0, 0)).value(), "decr stops at 0");
        assertEquals(0x0002, client.one(arithmetic(0x05, 12345, "n", 1, 0, 0)).status(), "CAS mismatch");
        // incr wraps at 2^64
        client.one(storage(0x01, 0, "w", "18446744073709551615", 0, 0));
        assertArrayEquals(hex("0000000000000001"), client.one(arithmetic(0x05, 0, "w", 2, 0, 0)).value());
        // a non-numeric value
        client.one(storage(0x01, 0, "t", "text", 0, 0));
        final Response bad = client.one(arithmetic(0x05, 0, "t", 1, 0, 0));
        assertEquals(0x0006, bad.status());
        assertEquals("Non-numeric server-side value for incr or decr", bad.text());
        // the quiet forms answer nothing on success
        assertEquals(0, client.call(arithmetic(0x15, 0, "n", 1, 0, 0)).size());
        assertEquals("1", client.one(request(0x00, "n")).text().strip());
    }

    @Test
    void shouldTouchAndGetAndTouch() {
        client.one(storage(0x01, 0, "g", "val", 3, 0));
        final byte[] exp = ByteBuffer.allocate(4).putInt(100).array();
        final Response touched = client.one(request(0x1c, 0, exp, "g", new byte[0]));
        assertEquals(0, touched.status());
        assertArrayEquals(hex("00000003"), touched.extras(), "touch answers the flags, no value");
        assertEquals(0, touched.value().length);
        assertEquals("val", client.one(request(0x1d, 0, exp, "g", new byte[0])).text());
        final Response gatk = client.one(request(0x23, 0, exp, "g", new byte[0]));
        assertEquals("g", new String(gatk.key(), StandardCharsets.US_ASCII));
        assertEquals(0, client.call(request(0x1e, 0, exp, "absent", new byte[0])).size(), "gatq miss is quiet");
        assertEquals(0x0001, client.one(request(0x1c, 0, exp, "absent", new byte[0])).status());
        // gat to an expiration in the past: the item is gone afterwards
        final byte[] past = ByteBuffer.allocate(4).putInt(1).array();
        client.one(request(0x1d, 0, past, "g", new byte[0]));
        fixture.clock.advanceSeconds(2);
        assertEquals(0x0001, client.one(request(0x00, "g")).status());
    }

    @Test
    void shouldFlushNowAndAnswerStatsAsPackets() {
        client.one(storage(0x01, 0, "f", "x", 0, 0));
        assertEquals(0, client.call(request(0x18, "")).size(), "flushq is quiet");
        assertEquals(0x0001, client.one(request(0x00, "f")).status());
        client.one(storage(0x01, 0, "f", "x", 0, 0));
        final Response flushed = client.one(request(0x08, 0, ByteBuffer.allocate(4).putInt(0).array(), "", new byte[0]));
        assertEquals(0, flushed.status());
        assertEquals(0x0001, client.one(request(0x00, "f")).status());

        final List<Response> general = client.call(request(0x10, ""));
        final Map<String, String> stats = new LinkedHashMap<>();
        for (final Response r : general) {
            assertEquals(0x10, r.opcode());
            assertEquals(0, r.status());
            assertEquals(0, r.cas());
            assertEquals(OPAQUE, r.opaque());
            stats.put(new String(r.key(), StandardCharsets.US_ASCII), r.text());
        }
        final Response last = general.get(general.size() - 1);
        assertEquals(0, last.key().length + last.value().length, "an empty terminator");
        assertEquals("1.6.21", stats.get("version"));
        assertEquals("2", stats.get("cmd_flush"));
        assertTrue(general.size() > 30, general.toString());
        final Map<String, String> settings = new LinkedHashMap<>();
        for (final Response r : client.call(request(0x10, "settings"))) {
            settings.put(new String(r.key(), StandardCharsets.US_ASCII), r.text());
        }
        assertEquals("auto-negotiate", settings.get("binding_protocol"));
        assertEquals(1, client.call(request(0x10, "reset")).size());
        final Response unknown = client.one(request(0x10, "nosuchgroup"));
        assertEquals(0x0001, unknown.status());
    }

    @Test
    void shouldRefuseMalformedRequestsAsMemcachedDoes() {
        // an unknown opcode: Unknown command, its body skipped, the connection stays usable
        final List<Response> unknown = client.call(concat(request(0x50, 0, new byte[0], "", hex("0102030405")),
            request(0x0a, "")));
        assertEquals(2, unknown.size(), unknown.toString());
        assertEquals(0x0081, unknown.get(0).status());
        assertEquals("Unknown command", unknown.get(0).text());
        assertEquals(0x0a, unknown.get(1).opcode());
        assertTrue(client.open);
        // SASL is not offered
        assertEquals(0x0081, client.one(request(0x20, "")).status());
        // a value over the item size limit: Too large., the value skipped
        final byte[] big = new byte[2 << 20];
        final List<Response> tooLarge = client.call(concat(request(0x01, 0, new byte[8], "big", big), request(0x0a, "")));
        assertEquals(0x0003, tooLarge.get(0).status());
        assertEquals("Too large.", tooLarge.get(0).text());
        assertEquals(0x0a, tooLarge.get(1).opcode());
        // a get with extras: Invalid arguments, then the connection closes
        final Response invalid = client.one(request(0x00, 0, new byte[4], "k", new byte[0]));
        assertEquals(0x0004, invalid.status());
        assertEquals("Invalid arguments", invalid.text());
        assertFalse(client.open);
    }

    @Test
    void shouldCloseOnALongKeyOrBadLengthsOrABadMagic() {
        assertEquals(0x0004, client.one(request(0x00, "k".repeat(251))).status());
        assertFalse(client.open);
        client = new Session();
        // key length 4 but body length 2: Unknown command, then close
        final Response lengths = client.one(hex("80000004 00000000 00000002 deadbeef 0000000000000000 6b6b6b6b"));
        assertEquals(0x0081, lengths.status());
        assertFalse(client.open);
        client = new Session();
        assertEquals(0, client.send(hex("90000000 00000000 00000000 00000000 0000000000000000")).length);
        assertFalse(client.open);
    }

    @Test
    void shouldTakeRequestsSplitAtEveryByteAndPipelined() {
        final byte[] all = concat(storage(0x01, 0, "s", "split-value", 9, 0), request(0x0c, "s"), request(0x0a, ""));
        final ByteArrayOutputStream replies = new ByteArrayOutputStream();
        for (final byte b : all) {
            replies.writeBytes(client.send(new byte[] {b}));
        }
        final List<Response> r = Response.parseAll(replies.toByteArray());
        assertEquals(3, r.size(), r.toString());
        assertEquals(0x01, r.get(0).opcode());
        assertEquals("split-value", r.get(1).text());
        assertArrayEquals(hex("00000009"), r.get(1).extras());
        assertEquals(0x0a, r.get(2).opcode());
        for (final Response each : r) {
            assertEquals(0x81, each.magic());
            assertEquals(OPAQUE, each.opaque());
        }
    }
}
