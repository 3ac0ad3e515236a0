package dev.osvj.bench.virtio;

import dev.osvj.bench.BenchContext;
import dev.osvj.bench.BenchSuite;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * {@code bin/osvj bench virtio}: {@code virtqueue.ratio_vs_agrona} (descriptor chains per second
 * through one split virtqueue, driver thread to device thread and back, vs Agrona
 * {@code OneToOneRingBuffer} round trips in the same run) and {@code blk.randread.ratio_vs_filechannel}
 * (4 KiB random reads through virtio-blk vs {@code FileChannel} reads of the same file). The
 * measurements live in actors-virtio ({@code dev.osvj.virtio.bench.VirtioBenchmarks}); this suite
 * reports them. It reaches them by name because the bench module gets actors-virtio only
 * transitively (through the modules that use virtio devices), so it builds whether or not that
 * dependency is there yet, and says so clearly at run time if it is not.
 */
public final class VirtioBenchSuite implements BenchSuite {
    static final String BENCHMARKS = "dev.osvj.virtio.bench.VirtioBenchmarks";

    @Override
    public String name() {
        return "virtio";
    }

    @Override
    public String description() {
        return "virtqueue round trips vs Agrona ring buffers; virtio-blk 4 KiB random reads vs FileChannel";
    }

    @Override
    @SuppressWarnings("unchecked")
    public void run(final BenchContext bench) throws Exception {
        final Method run;
        try {
            run = Class.forName(BENCHMARKS).getMethod("run", boolean.class, Consumer.class);
        } catch (final ClassNotFoundException e) {
            throw new IllegalStateException("actors-virtio is not on the bench classpath (" + BENCHMARKS
                + " missing): the virtio suite needs a module bench depends on to depend on actors-virtio", e);
        }
        final List<Map<String, Object>> metrics;
        try {
            metrics = (List<Map<String, Object>>)run.invoke(null, bench.quick(), (Consumer<String>)bench::progress);
        } catch (final InvocationTargetException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        }
        for (final Map<String, Object> m : metrics) {
            bench.metric((String)m.get("name"), ((Number)m.get("value")).doubleValue(), (String)m.get("unit"),
                (String)m.get("better"), (Map<String, Object>)m.get("detail"));
        }
    }
}
