package dev.osvj.kernel;

import com.typesafe.config.ConfigFactory;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.kernel.log.KernelLog;
import dev.osvj.kernel.trace.BootPhaseEvent;
import dev.osvj.kernel.trace.Tracepoints;
import jdk.jfr.Name;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The kernel core SPI's own pieces: errno, the dmesg ring, tracepoint selection, config spec shapes. */
class KernelCoreTest {
    @Test
    void shouldUseLinuxErrnoNumbersAndDecodeResults() {
        assertEquals(2, Errno.ENOENT.number());
        assertEquals(-11, Errno.EWOULDBLOCK.negative());
        assertEquals(Errno.ELOOP, Errno.of(40));
        assertEquals(Errno.ECONNREFUSED, Errno.fromResult(-111));
        assertNull(Errno.fromResult(0));
        assertNull(Errno.fromResult(17));
        assertNull(Errno.of(41)); // unused on Linux
        assertEquals("EMFILE (Too many open files)", Errno.EMFILE.describe());
        assertEquals(Errno.EBADF, assertThrows(ErrnoException.class, () -> Errno.check(-9)).errno());
    }

    @Test
    void shouldKeepTheNewestLinesAndCountTheDroppedOnes() {
        final AtomicLong now = new AtomicLong(1_000);
        final KernelLog log = new KernelLog("ring", 3, now::get);
        now.set(1_000 + 1_500_000_000L);
        log.append("INFO", "sched", "a");
        log.append("WARN", "net", "b\nc");
        log.append("INFO", "", "d");
        assertEquals(List.of("[    1.500000] WARN net: b", "[    1.500000] WARN net: c", "[    1.500000] d"), log.lines());
        assertEquals(1, log.dropped());
    }

    @Name("osvj.test.Probe")
    static final class ProbeEvent extends jdk.jfr.Event {
    }

    @Test
    void shouldSelectTracepointsByGlobWithOrWithoutThePrefix() {
        final Tracepoints t = new Tracepoints();
        t.declare(ProbeEvent.class);
        assertEquals(List.of("osvj.boot.Phase", "osvj.test.Probe"), t.names());
        assertEquals(List.of(BootPhaseEvent.class), t.select("boot.*"));
        assertEquals(List.of(BootPhaseEvent.class), t.select("osvj.BOOT.phase"));
        assertEquals(List.of(BootPhaseEvent.class, ProbeEvent.class), t.select("*"));
        assertEquals(List.of(ProbeEvent.class), t.select(" nothing , test.* "));
        assertEquals(List.of(), t.select(""));
    }

    @Test
    void shouldValidateObjectListsElementByElement() {
        final ConfigSpec spec = new ConfigSpec("osvj");
        spec.objectList("osvj.mounts", e -> e.oneOf("type", "ramfs", "rofs").string("path"));
        final var config = ConfigFactory.parseString(
            "osvj.mounts = [{type = ramfs, path = \"/\"}, {type = zfs, path = \"/x\", opts = ro}, 3]");
        assertEquals(List.of(
            "osvj.mounts[1].opts: unknown key",
            "osvj.mounts[1].type: expected one of ramfs, rofs, got \"zfs\"",
            "osvj.mounts[2]: expected an object, got 3"),
            spec.validate(config).stream().map(Object::toString).toList());
    }

    @Test
    void shouldAcceptAnyStringKeysBelowAnOpenObject() {
        final ConfigSpec spec = new ConfigSpec("osvj");
        spec.openObject("osvj.env");
        assertEquals(List.of(), spec.validate(ConfigFactory.parseString("osvj.env { HOME = \"/\", LANG = C }")));
        assertEquals(List.of("osvj.env.PATH: expected a string, got a list"),
            spec.validate(ConfigFactory.parseString("osvj.env { PATH = [a] }")).stream().map(Object::toString).toList());
    }

    @Test
    void shouldCheckSizesWithUnits() {
        final ConfigSpec spec = new ConfigSpec("osvj");
        spec.bytes("osvj.memory", 16L << 20, 64L << 30);
        assertEquals(List.of(), spec.validate(ConfigFactory.parseString("osvj.memory = 512M")));
        assertEquals(List.of("osvj.memory: expected a size in bytes such as 512M, 16M..64G, got \"1K\""),
            spec.validate(ConfigFactory.parseString("osvj.memory = 1K")).stream().map(Object::toString).toList());
        assertEquals(List.of("osvj.memory: expected a size in bytes such as 512M, 16M..64G, got \"lots\""),
            spec.validate(ConfigFactory.parseString("osvj.memory = lots")).stream().map(Object::toString).toList());
    }

    @Test
    void shouldRefuseToDeclareAKeyTwice() {
        final ConfigSpec spec = new ConfigSpec("osvj");
        spec.integer("osvj.cpus", 1, 64);
        assertThrows(IllegalStateException.class, () -> spec.integer("osvj.cpus", 1, 8));
    }
}
