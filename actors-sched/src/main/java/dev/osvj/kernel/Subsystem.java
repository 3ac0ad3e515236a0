package dev.osvj.kernel;

import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.kernel.trace.Tracepoints;

/**
 * One kernel subsystem (sched, mmu, virtio, vfs, net, app): the one small interface through which a
 * module plugs into the kernel. Modules list their implementation in
 * {@code META-INF/services/dev.osvj.kernel.Subsystem}; the boot code finds them with
 * {@link java.util.ServiceLoader}, so a new subsystem never touches the boot code.
 *
 * <p>Lifecycle, in this order:
 * <ol>
 *   <li>{@link #declareConfig} and {@link #declareTracepoints}, before anything starts, so the whole
 *       configuration is validated at once and {@code --trace} patterns can be checked;</li>
 *   <li>the kernel's guardian spawns one supervisor actor per subsystem, in {@link #order()};</li>
 *   <li>{@link #boot} runs in that supervisor, one subsystem after another: the boot phase. It spawns
 *       the subsystem's actors as the supervisor's children, registers console commands and services,
 *       and throws to fail the boot (the kernel prints the phase and the cause and exits 1);</li>
 *   <li>{@link #stop} runs in reverse boot order at shutdown.</li>
 * </ol>
 */
public interface Subsystem {
    /** Boot order slots; lower boots first and stops last. */
    final class Order {
        public static final int SCHED = 100;
        public static final int MMU = 200;
        public static final int VIRTIO = 300;
        public static final int VFS = 400;
        public static final int NET = 500;
        public static final int APP = 900;

        private Order() {
        }
    }

    /** The supervisor actor's name and the subsystem's name in messages: {@code sched}, {@code vfs}... */
    String name();

    /** Boot order slot (see {@link Order}). */
    int order();

    /** The boot chart label of this subsystem's phase, like OSv's ("SMP launched", "VFS initialized"). */
    String phase();

    /** Declare this subsystem's configuration keys (the ones its {@code reference.conf} documents). */
    default void declareConfig(final ConfigSpec spec) {
    }

    /** Declare this subsystem's tracepoints (JFR event types). */
    default void declareTracepoints(final Tracepoints tracepoints) {
    }

    /** The boot phase. Runs on the subsystem's supervisor actor; throw to fail the boot. */
    void boot(BootContext context) throws Exception;

    /** Orderly stop, in reverse boot order. Must not block longer than a few seconds. */
    default void stop(final KernelContext context) throws Exception {
    }
}
