package dev.osvj.system.glue;

import org.apache.pekko.actor.testkit.typed.javadsl.BehaviorTestKit;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** /proc/loadavg (Linux's fixed-point averages) and /proc/self/maps (Linux's line format) on literal numbers. */
class ProcLoadAndMapsTest {
    @Test
    void shouldFoldSamplesAsLinuxCalcLoadDoes() {
        final LoadAverage load = new LoadAverage();
        assertEquals("0.00 0.00 0.00 0/5 2\n", load.format(0, 5, 2));
        load.sample(1);
        // 1-minute: (0 * 1884 + 2048 * 164 + 2047) / 2048 = 164 -> 164 * 100 >> 11 = 8.
        // 5-minute: (2048 * 34 + 2047) / 2048 = 34 -> 1; 15-minute: 11 -> 0.
        assertEquals("0.08 0.01 0.00 1/5 2\n", load.format(1, 5, 2));
        assertEquals(164, LoadAverage.calc(0, LoadAverage.EXP_1, LoadAverage.FIXED_1));
        // A steady load of 2 for 15 minutes (180 samples): the 1-minute average reaches 2.00, the
        // 15-minute one 1 - 1/e of the way and more.
        for (int i = 0; i < 180; i++) {
            load.sample(2);
        }
        final String[] f = load.format(2, 5, 2).split(" ");
        assertEquals("2.00", f[0]);
        assertTrue(Double.parseDouble(f[2]) > 1.26 && Double.parseDouble(f[2]) < 2.0, f[2]);
        // Falling back to idle decays.
        load.sample(0);
        assertEquals("1.83", load.format(0, 5, 2).split(" ")[0]);
    }

    @Test
    void shouldSampleOnEveryTick() {
        final LoadAverage load = new LoadAverage();
        final BehaviorTestKit<ProcGlueSubsystem.SampleLoad> kit =
            BehaviorTestKit.create(ProcGlueSubsystem.loadSampler(load, () -> 3));
        kit.run(ProcGlueSubsystem.SampleLoad.INSTANCE);
        kit.run(ProcGlueSubsystem.SampleLoad.INSTANCE);
        final LoadAverage expected = new LoadAverage();
        expected.sample(3);
        expected.sample(3);
        assertEquals(expected.format(3, 1, 2), load.format(3, 1, 2));
    }

    @Test
    void shouldWriteMapsLinesAsLinuxDoes() {
        final String maps = ProcGlueSubsystem.maps(List.of(
            "200000000000-200000004000 rw-p anon",
            "200000004000-200000006000 r--s file@8192",
            "000002000000-000002001000 ---p anon",
            "not a vma line"));
        assertEquals("""
            200000000000-200000004000 rw-p 00000000 00:00 0
            200000004000-200000006000 r--s 00002000 00:00 0
            02000000-02001000 ---p 00000000 00:00 0
            """, maps);
    }
}
