package dev.osvj.system.boot;

import dev.osvj.kernel.Subsystem;

import java.util.Comparator;
import java.util.List;

/**
 * Finds the subsystems on the class path (each module's {@code META-INF/services/dev.osvj.kernel.Subsystem}).
 * The class path is scanned once ({@link ServiceProviders}); every call returns new instances (a
 * subsystem holds one kernel's state).
 */
public final class Subsystems {
    private Subsystems() {
    }

    /** Every subsystem, new instances, in boot order. */
    public static List<Subsystem> discover() {
        final List<Subsystem> subsystems = ServiceProviders.instances(Subsystem.class);
        subsystems.sort(Comparator.comparingInt(Subsystem::order).thenComparing(Subsystem::name));
        return subsystems;
    }
}
