package dev.osvj.system.boot;

import dev.osvj.kernel.Subsystem;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;

/** Finds the subsystems on the class path (each module's {@code META-INF/services/dev.osvj.kernel.Subsystem}). */
public final class Subsystems {
    private Subsystems() {
    }

    /** Every subsystem, in boot order. */
    public static List<Subsystem> discover() {
        final List<Subsystem> subsystems = new ArrayList<>();
        for (final Subsystem s : ServiceLoader.load(Subsystem.class)) {
            subsystems.add(s);
        }
        subsystems.sort(Comparator.comparingInt(Subsystem::order).thenComparing(Subsystem::name));
        return subsystems;
    }
}
