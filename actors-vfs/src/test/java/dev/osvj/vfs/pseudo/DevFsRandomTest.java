package dev.osvj.vfs.pseudo;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

class DevFsRandomTest {
    private static String read(final DevFs dev, final int n) {
        final ByteBuffer b = ByteBuffer.allocate(n);
        assertEquals(n, dev.randomDevice().read(b, 0));
        return HexFormat.of().formatHex(b.array());
    }

    @Test
    void shouldGiveDifferentBytesPerReadAndPerKernel() {
        final DevFs first = new DevFs();
        final DevFs second = new DevFs();
        final Set<String> seen = new HashSet<>();
        for (int i = 0; i < 4; i++) {
            seen.add(read(first, 32));
            seen.add(read(second, 32));
        }
        assertEquals(8, seen.size(), "32 random bytes never repeat, within a kernel or across kernels: " + seen);
        seen.forEach(s -> assertEquals(64, s.length()));
    }

    @Test
    void shouldShareOneSeededGeneratorAcrossKernels() {
        // Creating and seeding a SecureRandom per boot cost tens of microseconds; every devfs uses the JVM's one.
        assertSame(new DevFs().randomSource(), new DevFs().randomSource());
    }

    @Test
    void shouldTakeWrittenBytesAsExtraSeedAndStayUnpredictable() {
        final DevFs dev = new DevFs();
        final ByteBuffer seed = ByteBuffer.wrap(new byte[32]);
        assertEquals(32, dev.randomDevice().write(seed, 0));
        final DevFs other = new DevFs();
        other.randomDevice().write(ByteBuffer.wrap(new byte[32]), 0);
        // The same (all-zero) seed written to both does not make their next reads equal.
        final String a = read(dev, 32);
        final String b = read(other, 32);
        assertEquals(2, new HashSet<>(java.util.List.of(a, b)).size());
    }
}
