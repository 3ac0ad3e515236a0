package dev.osvj.sched;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** The scheduler's tracepoints (JFR events), declared by {@link SchedSubsystem}. */
public final class SchedEvents {
    private SchedEvents() {
    }

    /** A thread was switched in on a vCPU. */
    @Name("osvj.sched.Switch")
    @Label("Context switch")
    @Category({"osvj", "sched"})
    @StackTrace(false)
    public static final class Switch extends Event {
        @Label("vCPU")
        public int cpu;
        @Label("Thread id")
        public long threadId;
        @Label("Thread")
        public String thread;
    }

    /** A thread moved between vCPUs (balancer or pinning). */
    @Name("osvj.sched.Migrate")
    @Label("Thread migration")
    @Category({"osvj", "sched"})
    @StackTrace(false)
    public static final class Migrate extends Event {
        @Label("Thread id")
        public long threadId;
        @Label("From vCPU")
        public int from;
        @Label("To vCPU")
        public int to;
    }

    /** A kernel thread blocked its vCPU's carrier in a JDK call for longer than the threshold. */
    @Name("osvj.sched.BlockedCarrier")
    @Label("Blocked carrier")
    @Description("A kernel thread blocked its vCPU's carrier thread in a JDK call (sleep, park, I/O)")
    @Category({"osvj", "sched"})
    @StackTrace(false)
    public static final class BlockedCarrier extends Event {
        @Label("vCPU")
        public int cpu;
        @Label("Thread")
        public String thread;
        @Label("Blocked for (ms)")
        public long blockedMillis;
        @Label("Top frame")
        public String topFrame;
    }

    static void switched(final int cpu, final KThread t) {
        final Switch e = new Switch();
        if (e.isEnabled()) {
            e.cpu = cpu;
            e.threadId = t.id();
            e.thread = t.name();
            e.commit();
        }
    }

    static void migrated(final KThread t, final int from, final int to) {
        final Migrate e = new Migrate();
        if (e.isEnabled()) {
            e.threadId = t.id();
            e.from = from;
            e.to = to;
            e.commit();
        }
    }
}
