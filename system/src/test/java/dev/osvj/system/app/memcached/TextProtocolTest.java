package dev.osvj.system.app.memcached;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static dev.osvj.system.app.memcached.Fixture.ascii;
import static dev.osvj.system.app.memcached.Fixture.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Protocol conformance on literal request and reply bytes (memcached 1.6's text protocol). */
class TextProtocolTest extends StoreTestSupport {
    private Session client;

    /** One connection's engine. */
    private final class Session {
        final TextProtocol engine = new TextProtocol(store, Fixture.stats());
        final OutBuffer out = new OutBuffer(64);
        boolean open = true;

        String send(final String request) {
            final byte[] b = ascii(request);
            open = engine.receive(b, 0, b.length, out);
            return text(out.drain());
        }
    }

    @BeforeEach
    void connect() {
        client = new Session();
    }

    @Test
    void shouldStoreAndGetWithFlagsAndCasUniques() {
        assertEquals("STORED\r\n", client.send("set foo 4294967295 0 3\r\nbar\r\n"));
        assertEquals("VALUE foo 4294967295 3\r\nbar\r\nEND\r\n", client.send("get foo\r\n"));
        assertEquals("VALUE foo 4294967295 3 1\r\nbar\r\nEND\r\n", client.send("gets foo\r\n"));
        assertEquals("STORED\r\n", client.send("set k2 7 0 0\r\n\r\n"));
        assertEquals("VALUE foo 4294967295 3\r\nbar\r\nVALUE k2 7 0\r\n\r\nEND\r\n", client.send("get foo nope k2\r\n"));
        assertEquals("VALUE k2 7 0 2\r\n\r\nEND\r\n", client.send("gets k2\r\n"));
        assertEquals("END\r\n", client.send("get nope\r\n"));
        assertEquals("STORED\r\n", client.send("set foo 1 0 4\r\nb\r\nz\r\n"));
        assertEquals("VALUE foo 1 4 3\r\nb\r\nz\r\nEND\r\n", client.send("gets foo\r\n"));
        assertEquals("VALUE foo 1 4\r\nb\r\nz\r\nEND\r\n", client.send("get foo\n"));
    }

    @Test
    void shouldAddReplaceAppendAndPrepend() {
        assertEquals("NOT_STORED\r\n", client.send("replace a 0 0 1\r\nx\r\n"));
        assertEquals("NOT_STORED\r\n", client.send("append a 0 0 1\r\nx\r\n"));
        assertEquals("NOT_STORED\r\n", client.send("prepend a 0 0 1\r\nx\r\n"));
        assertEquals("STORED\r\n", client.send("add a 5 0 1\r\nm\r\n"));
        assertEquals("NOT_STORED\r\n", client.send("add a 0 0 1\r\nx\r\n"));
        assertEquals("STORED\r\n", client.send("append a 9 0 3\r\nend\r\n"));
        assertEquals("STORED\r\n", client.send("prepend a 9 0 5\r\nstart\r\n"));
        assertEquals("VALUE a 5 9\r\nstartmend\r\nEND\r\n", client.send("get a\r\n"));
        assertEquals("STORED\r\n", client.send("replace a 6 0 2\r\nre\r\n"));
        assertEquals("VALUE a 6 2 4\r\nre\r\nEND\r\n", client.send("gets a\r\n"));
    }

    @Test
    void shouldCompareAndSwapAndLetOnlyOneRacerWin() {
        assertEquals("NOT_FOUND\r\n", client.send("cas k 0 0 1 1\r\nx\r\n"));
        assertEquals("STORED\r\n", client.send("set k 0 0 1\r\na\r\n"));
        final Session other = new Session();
        assertEquals("VALUE k 0 1 1\r\na\r\nEND\r\n", client.send("gets k\r\n"));
        assertEquals("VALUE k 0 1 1\r\na\r\nEND\r\n", other.send("gets k\r\n"));
        assertEquals("STORED\r\n", other.send("cas k 0 0 1 1\r\nb\r\n"));
        assertEquals("EXISTS\r\n", client.send("cas k 0 0 1 1\r\nc\r\n"));
        assertEquals("VALUE k 0 1 2\r\nb\r\nEND\r\n", client.send("gets k\r\n"));
        assertEquals("STORED\r\n", client.send("cas k 3 0 1 2 noreply\r\nd\r\n".replace(" noreply", "")));
        assertEquals("VALUE k 3 1 3\r\nd\r\nEND\r\n", client.send("gets k\r\n"));
        assertEquals("CLIENT_ERROR bad command line format\r\n", client.send("cas k 0 0 1 -1\r\n"));
        assertEquals("ERROR\r\n", client.send("cas k 0 0 1\r\n"));
        assertEquals("STAT cas_misses 1", line(client.send("stats\r\n"), "STAT cas_misses"));
        assertEquals("STAT cas_hits 2", line(client.send("stats\r\n"), "STAT cas_hits"));
        assertEquals("STAT cas_badval 1", line(client.send("stats\r\n"), "STAT cas_badval"));
    }

    @Test
    void shouldIncrementAndDecrementWithSixtyFourBitWrapAndFloorAtZero() {
        assertEquals("NOT_FOUND\r\n", client.send("incr n 1\r\n"));
        assertEquals("STORED\r\n", client.send("set n 3 0 20\r\n18446744073709551615\r\n"));
        assertEquals("0\r\n", client.send("incr n 1\r\n"));
        assertEquals("VALUE n 3 20\r\n0                   \r\nEND\r\n", client.send("get n\r\n"));
        assertEquals("18446744073709551615\r\n", client.send("incr n 18446744073709551615\r\n"));
        assertEquals("18446744073709551614\r\n", client.send("incr n 18446744073709551615\r\n"));
        assertEquals("STORED\r\n", client.send("set d 0 0 2\r\n10\r\n"));
        assertEquals("9\r\n", client.send("decr d 1\r\n"));
        assertEquals("VALUE d 0 2\r\n9 \r\nEND\r\n", client.send("get d\r\n"));
        assertEquals("0\r\n", client.send("decr d 100\r\n"));
        assertEquals("STORED\r\n", client.send("set g 0 0 2\r\n99\r\n"));
        assertEquals("100\r\n", client.send("incr g 1\r\n"));
        assertEquals("VALUE g 0 3 9\r\n100\r\nEND\r\n", client.send("gets g\r\n"));
        assertEquals("CLIENT_ERROR invalid numeric delta argument\r\n", client.send("incr g -1\r\n"));
        assertEquals("CLIENT_ERROR invalid numeric delta argument\r\n", client.send("incr g 18446744073709551616\r\n"));
        assertEquals("CLIENT_ERROR invalid numeric delta argument\r\n", client.send("decr g 1x\r\n"));
        assertEquals("STORED\r\n", client.send("set t 0 0 3\r\nabc\r\n"));
        assertEquals("CLIENT_ERROR cannot increment or decrement non-numeric value\r\n", client.send("incr t 1\r\n"));
        assertEquals("STORED\r\n", client.send("set neg 0 0 2\r\n-1\r\n"));
        assertEquals("CLIENT_ERROR cannot increment or decrement non-numeric value\r\n", client.send("decr neg 1\r\n"));
        assertEquals("STORED\r\n", client.send("set e 0 0 0\r\n\r\n"));
        assertEquals("CLIENT_ERROR cannot increment or decrement non-numeric value\r\n", client.send("incr e 1\r\n"));
        assertEquals("ERROR\r\n", client.send("incr g\r\n"));
        assertEquals("", client.send("incr g 5 noreply\r\n"));
        assertEquals("VALUE g 0 3\r\n105\r\nEND\r\n", client.send("get g\r\n"));
    }

    @Test
    void shouldDeleteTouchAndGetAndTouch() {
        assertEquals("NOT_FOUND\r\n", client.send("delete k\r\n"));
        assertEquals("STORED\r\n", client.send("set k 0 0 1\r\nv\r\n"));
        assertEquals("CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n", client.send("delete k 5\r\n"));
        assertEquals("DELETED\r\n", client.send("delete k 0\r\n"));
        assertEquals("ERROR\r\n", client.send("delete k 0 noreply extra\r\n"));
        assertEquals("NOT_FOUND\r\n", client.send("touch k 10\r\n"));
        assertEquals("STORED\r\n", client.send("set k 0 0 1\r\nv\r\n"));
        assertEquals("TOUCHED\r\n", client.send("touch k 10\r\n"));
        fixture.clock.advanceSeconds(9);
        assertEquals("VALUE k 0 1\r\nv\r\nEND\r\n", client.send("gat 100 k\r\n"));
        fixture.clock.advanceSeconds(50);
        assertEquals("VALUE k 0 1 2\r\nv\r\nEND\r\n", client.send("gats 0 k nope\r\n"));
        fixture.clock.advanceSeconds(500);
        assertEquals("VALUE k 0 1\r\nv\r\nEND\r\n", client.send("get k\r\n"));
        assertEquals("END\r\n", client.send("gat 10\r\n"));
        assertEquals("CLIENT_ERROR invalid exptime argument\r\n", client.send("touch k soon\r\n"));
        assertEquals("CLIENT_ERROR invalid exptime argument\r\n", client.send("gat soon k\r\n"));
        assertEquals("DELETED\r\n", client.send("delete k noreply\r\n".replace(" noreply", "")));
    }

    @Test
    void shouldExpireRelativeAbsoluteAndNegativeTimesWithTheManualClock() {
        final long now = fixture.clock.real / 1_000_000_000L;
        assertEquals("STORED\r\n", client.send("set rel 0 10 1\r\nr\r\n"));
        assertEquals("STORED\r\n", client.send("set abs 0 " + (now + 20) + " 1\r\na\r\n"));
        assertEquals("STORED\r\n", client.send("set past 0 " + (now - 20) + " 1\r\np\r\n"));
        assertEquals("STORED\r\n", client.send("set neg 0 -1 1\r\nn\r\n"));
        assertEquals("STORED\r\n", client.send("set max 0 2592000 1\r\nm\r\n"));
        assertEquals("STORED\r\n", client.send("set never 0 0 1\r\nv\r\n"));
        assertEquals("VALUE rel 0 1\r\nr\r\nVALUE abs 0 1\r\na\r\nVALUE max 0 1\r\nm\r\nVALUE never 0 1\r\nv\r\nEND\r\n",
            client.send("get rel abs past neg max never\r\n"));
        fixture.clock.advanceSeconds(9);
        assertEquals("VALUE rel 0 1\r\nr\r\nEND\r\n", client.send("get rel\r\n"));
        fixture.clock.advanceSeconds(1);
        assertEquals("END\r\n", client.send("get rel\r\n"));
        fixture.clock.advanceSeconds(10);
        assertEquals("END\r\n", client.send("get abs\r\n"));
        fixture.clock.advanceSeconds(2592000 - 20 - 1);
        assertEquals("VALUE max 0 1\r\nm\r\nEND\r\n", client.send("get max\r\n"));
        fixture.clock.advanceSeconds(1);
        assertEquals("VALUE never 0 1\r\nv\r\nEND\r\n", client.send("get max never\r\n"));
        assertEquals("STAT get_expired 5", line(client.send("stats\r\n"), "STAT get_expired"));
        assertEquals("STORED\r\n", client.send("set t 0 0 1\r\nt\r\n"));
        assertEquals("TOUCHED\r\n", client.send("touch t -1\r\n"));
        assertEquals("NOT_FOUND\r\n", client.send("touch t 0\r\n"));
    }

    @Test
    void shouldFlushAllAtOnceAndAfterADelay() {
        assertEquals("STORED\r\n", client.send("set a 0 0 1\r\na\r\n"));
        assertEquals("OK\r\n", client.send("flush_all\r\n"));
        assertEquals("END\r\n", client.send("get a\r\n"));
        assertEquals("STORED\r\n", client.send("set b 0 0 1\r\nb\r\n"));
        assertEquals("VALUE b 0 1\r\nb\r\nEND\r\n", client.send("get b\r\n"));
        assertEquals("OK\r\n", client.send("flush_all 10\r\n"));
        fixture.clock.advanceSeconds(5);
        assertEquals("VALUE b 0 1\r\nb\r\nEND\r\n", client.send("get b\r\n"));
        fixture.clock.advanceSeconds(5);
        assertEquals("END\r\n", client.send("get b\r\n"));
        assertEquals("", client.send("flush_all 0 noreply\r\n"));
        assertEquals("", client.send("flush_all noreply\r\n"));
        assertEquals("CLIENT_ERROR bad command line format\r\n", client.send("flush_all soon\r\n"));
        assertEquals("ERROR\r\n", client.send("flush_all 1 noreply x\r\n"));
        assertEquals("STAT cmd_flush 4", line(client.send("stats\r\n"), "STAT cmd_flush"));
    }

    @Test
    void shouldSendMemcachedsErrorRepliesExactly() {
        assertEquals("ERROR\r\n", client.send("bogus\r\n"));
        assertEquals("ERROR\r\n", client.send("\r\n"));
        assertEquals("ERROR\r\n", client.send("get\r\n"));
        assertEquals("ERROR\r\n", client.send("g\r\n"));
        assertEquals("ERROR\r\n", client.send("set a 0 0\r\n"));
        assertEquals("CLIENT_ERROR bad command line format\r\n", client.send("set a x 0 1\r\n"));
        assertEquals("CLIENT_ERROR bad command line format\r\n", client.send("set a -1 0 1\r\n"));
        assertEquals("CLIENT_ERROR bad command line format\r\n", client.send("set a 4294967296 0 1\r\n"));
        assertEquals("CLIENT_ERROR bad command line format\r\n", client.send("set a 0 0 -1\r\n"));
        assertEquals("CLIENT_ERROR bad command line format\r\n", client.send("set a 0 9999999999 1\r\n"));
        final String longKey = "k".repeat(251);
        assertEquals("CLIENT_ERROR bad command line format\r\n", client.send("set " + longKey + " 0 0 1\r\n"));
        assertEquals("CLIENT_ERROR bad command line format\r\n", client.send("get " + longKey + "\r\n"));
        assertEquals("CLIENT_ERROR bad command line format\r\n", client.send("delete " + longKey + "\r\n"));
        assertEquals("STORED\r\n", client.send("set " + "k".repeat(250) + " 0 0 1\r\nx\r\n"));
        assertEquals("CLIENT_ERROR bad data chunk\r\nERROR\r\n", client.send("set a 0 0 3\r\nabcde\r\n"));
        assertEquals("END\r\n", client.send("get a\r\n"));
        assertEquals("ERROR: shutdown not enabled\r\n", client.send("shutdown\r\n"));
        assertEquals("", client.send("verbosity noreply\r\n"));
        assertEquals("ERROR\r\n", client.send("verbosity foo bar my\r\n"));
        assertEquals("ERROR\r\n", client.send("verbosity\r\n"));
        assertEquals("OK\r\n", client.send("verbosity 1\r\n"));
        assertEquals("", client.send("verbosity 1 noreply\r\n"));
        assertEquals("VERSION 1.6.21\r\n", client.send("version\r\n"));
        assertEquals("ERROR\r\n", client.send("stats nosuch\r\n"));
        assertEquals("ERROR\r\n", client.send("set " + "a ".repeat(30) + "\r\n"));
        assertTrue(client.open);
    }

    @Test
    void shouldStaySilentWithNoreplyForEveryCommand() {
        final String silent = "set a 0 0 1 noreply\r\n1\r\nadd b 0 0 1 noreply\r\n2\r\nadd a 0 0 1 noreply\r\nx\r\n"
            + "replace a 0 0 1 noreply\r\n3\r\nappend a 0 0 1 noreply\r\n4\r\nprepend a 0 0 1 noreply\r\n5\r\n"
            + "cas a 0 0 1 999 noreply\r\nx\r\ncas zz 0 0 1 1 noreply\r\nx\r\nincr a 1 noreply\r\ndecr b 1 noreply\r\n"
            + "incr zz 1 noreply\r\ntouch b 100 noreply\r\ntouch zz 1 noreply\r\ndelete zz noreply\r\n"
            + "set c 0 0 1 noreply\r\nc\r\ndelete c noreply\r\nset big 0 0 2000000 noreply\r\n" + "x".repeat(2000000)
            + "\r\nset bad 0 0 1 noreply\r\nxyz\r\nflush_all 1000 noreply\r\nverbosity 0 noreply\r\n";
        assertEquals("ERROR\r\n", client.send(silent));
        assertEquals("VALUE a 0 3\r\n535\r\nVALUE b 0 1\r\n1\r\nEND\r\n", client.send("get a b c big bad\r\n"));
    }

    @Test
    void shouldGiveTheSameRepliesWhenPipelinedRequestsAreSplitAtEveryByte() {
        final String script = "set a 1 0 3\r\nabc\r\nget a\r\ngets a b\r\nadd a 0 0 1\r\nx\r\nappend a 0 0 2\r\nde\r\n"
            + "set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\ncas a 2 0 1 1\r\nz\r\ncas a 0 0 1 2\r\ny\r\n"
            + "touch a 100\r\ngat 0 a n\r\ndelete n\r\ndelete n noreply\r\nset q 0 0 1 noreply\r\nq\r\n"
            + "bogus cmd\r\nset r 0 0 2\r\nabcd\r\nincr a x\r\nversion\r\nflush_all\r\nget a q\r\nget q\n";
        final byte[] bytes = ascii(script);
        final String whole = feed(bytes, bytes.length);
        assertEquals("STORED\r\nVALUE a 1 3\r\nabc\r\nEND\r\nVALUE a 1 3 1\r\nabc\r\nEND\r\nNOT_STORED\r\nSTORED\r\n"
            + "STORED\r\n15\r\n0\r\nEXISTS\r\nSTORED\r\nTOUCHED\r\nVALUE a 0 1\r\ny\r\nVALUE n 0 2\r\n0 \r\nEND\r\n"
            + "DELETED\r\nERROR\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\nCLIENT_ERROR invalid numeric delta argument\r\n"
            + "VERSION 1.6.21\r\nOK\r\nEND\r\nEND\r\n", whole);
        for (int split = 1; split < bytes.length; split++) {
            assertEquals(whole, feed(bytes, split), "split at byte " + split);
        }
        assertEquals(whole, feed(bytes, -1), "one byte at a time");
    }

    /** Replies of a fresh store and connection fed {@code bytes} in two pieces (or one byte at a time for -1). */
    private String feed(final byte[] bytes, final int split) {
        try (ItemStore s = fixture.store()) {
            final TextProtocol engine = new TextProtocol(s, Fixture.stats());
            final OutBuffer out = new OutBuffer(64);
            if (split < 0) {
                for (int i = 0; i < bytes.length; i++) {
                    engine.receive(bytes, i, 1, out);
                }
            } else {
                engine.receive(Arrays.copyOfRange(bytes, 0, split), 0, split, out);
                engine.receive(Arrays.copyOfRange(bytes, split, bytes.length), 0, bytes.length - split, out);
            }
            return text(out.drain());
        }
    }

    @Test
    void shouldEvictLeastRecentlyUsedItemsUnderTheMemoryLimit() {
        store.close();
        // 64 KiB pages, a limit of 4 pages: one class of 1000-byte values fills 4 pages.
        store = fixture.store(4 * 65536, 65536, true);
        client = new Session();
        final String value = "v".repeat(1000);
        int stored = 0;
        while (true) {
            assertEquals("STORED\r\n", client.send("set key" + stored + " 0 0 1000\r\n" + value + "\r\n"));
            stored++;
            if (line(client.send("stats\r\n"), "STAT evictions").equals("STAT evictions 1")) {
                break;
            }
            if (stored == 1) {
                continue;
            }
            // keep key0 recently used: it must survive while older ones go
            assertTrue(client.send("get key0\r\n").startsWith("VALUE key0 "));
        }
        final int capacity = stored - 1;
        assertTrue(capacity >= 4 * (65536 / 1096) - 1, "capacity " + capacity);
        assertTrue(client.send("get key0\r\n").startsWith("VALUE key0 "), "recently used survives");
        assertEquals("END\r\n", client.send("get key1\r\n"), "least recently used evicted first");
        assertTrue(client.send("get key2\r\n").startsWith("VALUE key2 "), "only as many evictions as needed");
        for (int i = 0; i < capacity; i++) {
            client.send("set more" + i + " 0 0 1000\r\n" + value + "\r\n");
        }
        assertEquals("END\r\n", client.send("get key2\r\n"));
        assertEquals("STAT curr_items " + capacity, line(client.send("stats\r\n"), "STAT curr_items"));
        assertEquals("STAT total_malloced " + 4 * 65536, line(client.send("stats slabs\r\n"), "STAT total_malloced"));
    }

    @Test
    void shouldRefuseItemsAboveOneMebibyteAndSwallowTheirValue() {
        final int fits = (1 << 20) - Item.HEADER - 3 - 2;
        assertEquals("STORED\r\n", client.send("set big 0 0 " + fits + "\r\n" + "x".repeat(fits) + "\r\n"));
        final String got = client.send("get big\r\n");
        assertEquals("VALUE big 0 " + fits + "\r\n", got.substring(0, got.indexOf("\r\n") + 2));
        assertEquals(fits + 7 + ("VALUE big 0 " + fits).length() + 2, got.length());
        assertEquals("SERVER_ERROR object too large for cache\r\nSTORED\r\nVALUE big 0 1\r\nb\r\nEND\r\n",
            client.send("set big 0 0 " + (fits + 1) + "\r\n" + "y".repeat(fits + 1) + "\r\nset big 0 0 1\r\nb\r\nget big\r\n"));
        assertEquals("SERVER_ERROR object too large for cache\r\nEND\r\n",
            client.send("set big 0 0 " + (2 << 20) + "\r\n" + "z".repeat(2 << 20) + "\r\nget big\r\n"), "a failed set removes the old value");
        assertEquals("STORED\r\n", client.send("set a 0 0 " + (fits - 10) + "\r\n" + "x".repeat(fits - 10) + "\r\n"));
        assertEquals("NOT_STORED\r\n", client.send("append a 0 0 100\r\n" + "y".repeat(100) + "\r\n"));
    }

    @Test
    void shouldReportGeneralSettingsItemsAndSlabsStatistics() {
        client.send("set a 0 0 1\r\na\r\nget a\r\nget b\r\n");
        final String general = client.send("stats\r\n");
        assertTrue(general.startsWith("STAT pid "), general);
        assertTrue(general.endsWith("END\r\n"), general);
        assertEquals("STAT curr_items 1", line(general, "STAT curr_items"));
        assertEquals("STAT get_hits 1", line(general, "STAT get_hits"));
        assertEquals("STAT get_misses 1", line(general, "STAT get_misses"));
        assertEquals("STAT cmd_set 1", line(general, "STAT cmd_set"));
        assertEquals("STAT limit_maxbytes 67108864", line(general, "STAT limit_maxbytes"));
        assertEquals("STAT version 1.6.21", line(general, "STAT version"));
        final String settings = client.send("stats settings\r\n");
        assertEquals("STAT item_size_max 1048576", line(settings, "STAT item_size_max"));
        assertEquals("STAT cas_enabled yes", line(settings, "STAT cas_enabled"));
        assertEquals("STAT items:1:number 1", line(client.send("stats items\r\n"), "STAT items:1:number"));
        final String slabs = client.send("stats slabs\r\n");
        assertEquals("STAT 1:chunk_size 104", line(slabs, "STAT 1:chunk_size"));
        assertEquals("STAT 1:used_chunks 1", line(slabs, "STAT 1:used_chunks"));
        assertEquals("STAT active_slabs 1", line(slabs, "STAT active_slabs"));
        assertEquals("STAT sizes_status disabled\r\nEND\r\n", client.send("stats sizes\r\n"));
        assertEquals("RESET\r\n", client.send("stats reset\r\n"));
        assertEquals("STAT get_hits 0", line(client.send("stats\r\n"), "STAT get_hits"));
    }

    @Test
    void shouldCloseOnQuitAfterTheEarlierRepliesAndOnARunawayLine() {
        assertEquals("END\r\n", client.send("get a\r\nquit\r\nget b\r\n"));
        assertFalse(client.open);
        final Session junk = new Session();
        assertEquals("", junk.send("x".repeat(3000)));
        assertFalse(junk.open);
        final Session multiget = new Session();
        assertEquals("", multiget.send("get " + "key ".repeat(1000)));
        assertTrue(multiget.open, "a long get line may continue");
        assertEquals("END\r\n", multiget.send("\r\n"));
    }

    @Test
    void shouldReportNoCasWhenCasIsDisabled() {
        store.close();
        store = fixture.store(64L << 20, 1 << 20, false);
        client = new Session();
        assertEquals("STORED\r\n", client.send("set a 0 0 1\r\na\r\n"));
        assertEquals("VALUE a 0 1 0\r\na\r\nEND\r\n", client.send("gets a\r\n"));
    }

    @Test
    void shouldCountGetsHitsSetsAndDeletesPerKeyPrefixWhileStatsDetailIsOn() {
        assertEquals("CLIENT_ERROR usage: stats detail on|off|dump\r\n", client.send("stats detail\r\n"));
        assertEquals("CLIENT_ERROR usage: stats detail on|off|dump\r\n", client.send("stats detail maybe\r\n"));
        assertEquals("STAT detail_enabled no", line(client.send("stats settings\r\n"), "STAT detail_enabled"));
        assertEquals("STORED\r\n", client.send("set user:1 0 0 1\r\na\r\n")); // detail off: not counted
        assertEquals("END\r\n", client.send("stats detail dump\r\n"));
        assertEquals("OK\r\n", client.send("stats detail on\r\n"));
        assertEquals("STAT detail_enabled yes", line(client.send("stats settings\r\n"), "STAT detail_enabled"));
        assertEquals("STORED\r\n", client.send("set user:2 0 0 1\r\nb\r\n"));
        assertEquals("STORED\r\n", client.send("add user:3 0 0 1\r\nc\r\n"));
        assertEquals("STORED\r\n", client.send("set cart:7:x 0 0 1\r\nd\r\n")); // prefix ends at the first ':'
        assertEquals("STORED\r\n", client.send("set plain 0 0 1\r\ne\r\n")); // no delimiter: not counted
        assertEquals("VALUE user:1 0 1\r\na\r\nVALUE user:2 0 1\r\nb\r\nEND\r\n",
            client.send("get user:1 user:2 user:9 plain:x\r\n")); // one get per key, two hits
        assertEquals("VALUE cart:7:x 0 1 4\r\nd\r\nEND\r\n", client.send("gets cart:7:x\r\n"));
        assertEquals("DELETED\r\n", client.send("delete user:1\r\n"));
        assertEquals("NOT_FOUND\r\n", client.send("delete user:1\r\n")); // counted found or not
        assertEquals("STORED\r\n", client.send("set :empty 0 0 1\r\nf\r\n")); // the empty prefix
        assertEquals("PREFIX  get 0 hit 0 set 1 del 0\r\n"
            + "PREFIX cart get 1 hit 1 set 1 del 0\r\n"
            + "PREFIX plain get 1 hit 0 set 0 del 0\r\n"
            + "PREFIX user get 3 hit 2 set 2 del 2\r\n"
            + "END\r\n", client.send("stats detail dump\r\n"));
        assertEquals("OK\r\n", client.send("stats detail off\r\n"));
        assertEquals("VALUE user:2 0 1\r\nb\r\nEND\r\n", client.send("get user:2\r\n"));
        assertTrue(client.send("stats detail dump\r\n").contains("PREFIX user get 3 hit 2 set 2 del 2\r\n"),
            "off stops counting but keeps the counts");
        assertEquals("RESET\r\n", client.send("stats reset\r\n"));
        assertEquals("END\r\n", client.send("stats detail dump\r\n"));
    }

    private static String line(final String reply, final String prefix) {
        for (final String l : reply.split("\r\n")) {
            if (l.startsWith(prefix + " ")) {
                return l;
            }
        }
        return "(no " + prefix + " in " + reply + ")";
    }
}
