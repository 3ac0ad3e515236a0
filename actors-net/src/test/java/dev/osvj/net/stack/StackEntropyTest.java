package dev.osvj.net.stack;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.HexFormat;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

class StackEntropyTest {
    @Test
    void shouldShareOneSecureRandomAcrossStacksAndDrawFreshBytesFromIt() {
        final NetStack first = new NetStack(StackSettings.defaults(), System::nanoTime);
        final NetStack second = new NetStack(StackSettings.defaults(), System::nanoTime);
        // Creating and seeding a SecureRandom per boot cost tens of microseconds; every stack uses the JVM's one.
        assertSame(first.random(), second.random());
        final Set<String> seen = new HashSet<>();
        for (int i = 0; i < 4; i++) {
            final byte[] b = new byte[16];
            (i % 2 == 0 ? first : second).random().nextBytes(b);
            seen.add(HexFormat.of().formatHex(b));
        }
        assertEquals(4, seen.size(), seen.toString());
    }
}
