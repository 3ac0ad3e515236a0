package dev.osvj.bench.census;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * The benchmarks' one census of this JVM's threads: where a run's CPU time, sleeps and heap allocation
 * went, per thread kind. Two snapshots ({@link #take}) make a {@link Delta}; {@link #perRequestByName}
 * (the apps suite's {@code cpu_us.thread.*}, {@code waits.thread.*}, {@code sleeps.jvm}) and
 * {@link #perRequestByKind} (the fleet suite's {@code cpu_us.KIND}, {@code waits.KIND},
 * {@code sleeps.process}, {@code cores_busy}) turn it into per-request report rows.
 *
 * <h2>Sources (no stack walk, no safepoint operation)</h2>
 * <ul>
 *   <li><b>Java threads</b>: the root {@link ThreadGroup}'s {@link ThreadGroup#enumerate(Thread[], boolean)}
 *       (a list of the live platform threads under a thread-list handle, not a safepoint operation,
 *       unlike {@code Thread.getAllStackTraces}); per thread {@code ThreadMXBean.getThreadCpuTime(id)}
 *       (ns) and {@code getThreadAllocatedBytes(id)} (bytes). It never calls
 *       {@code ThreadMXBean.getThreadInfo}: JDK 25 crashed (SIGSEGV in {@code ThreadSnapshot::initialize})
 *       in about 1 of 40 fleet benchmark runs taking thread infos of kernels whose carriers mount raw
 *       continuations.</li>
 *   <li><b>Native threads</b> ({@code /proc/self/task/TID}, Linux): {@code comm} (the name), CPU
 *       nanoseconds ({@code schedstat}) and voluntary context switches ({@code status}), for every
 *       thread of the process: JIT compilers, GC and the VM thread as well as the Java threads.</li>
 *   <li><b>Sleeps of a Java thread</b> (the {@code waits.*} rows) are the voluntary context switches of
 *       its native thread: each one a sleep (a park, a monitor wait, a blocking {@code epoll_wait} or
 *       {@code read}) that a wake-up ended, the cost that matters on this VM. (Until session 9 these rows
 *       came from {@code ThreadInfo.getWaitedCount}: parks and waits, including those that returned at
 *       once, excluding blocking system calls.) A Java thread is matched to its native thread by name:
 *       HotSpot names a started thread's native thread with the first 15 bytes of its UTF-8 name (the
 *       Linux limit), and a thread that renames itself renames its native thread too; threads with the
 *       same 15-byte prefix (the threads of one kernel, or of two kernels whose names differ later) are
 *       paired by CPU time, which both sides read from the kernel: a thread that was not running
 *       shows the same nanoseconds on both, the others are paired in order of CPU time (see
 *       {@link #match}). Two running threads of one prefix with nearly the same CPU time may swap
 *       their sleeps;
 *       a thread renamed by another thread, or the {@code main} thread (native name {@code java}), has
 *       no match and no sleeps (its CPU still counts).</li>
 *   <li>The process's CPU ({@code OperatingSystemMXBean.getProcessCpuTime}) and the machine's busy and
 *       total jiffies ({@code /proc/stat}, every core, every process).</li>
 * </ul>
 *
 * <p>Missing parts are empty or 0 where {@code /proc} is not readable or the JVM does not measure
 * thread CPU time. Immutable once taken; {@link #take} is for a control thread (a few file reads per
 * native thread, about a millisecond for a hundred threads).
 */
public final class ThreadCensus {
    /** Linux keeps 15 bytes of a thread's name (16 with the terminating NUL). */
    static final int COMM_BYTES = 15;

    private static final com.sun.management.ThreadMXBean THREADS =
        (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
    private static final com.sun.management.OperatingSystemMXBean OS =
        (com.sun.management.OperatingSystemMXBean)ManagementFactory.getOperatingSystemMXBean();

    /** One Java thread at the snapshot: its name, CPU ns, allocated bytes and native thread id (0: none). */
    record JavaSample(String name, long cpuNs, long allocBytes, int tid) {
    }

    /** One native thread at the snapshot: {@code comm}, CPU ns, voluntary context switches. */
    record NativeSample(String comm, long cpuNs, long sleeps) {
    }

    private final long wallNs;
    private final long processCpuNs;
    private final long machineBusyJiffies;
    private final long machineTotalJiffies;
    private final Map<Long, JavaSample> javaThreads;
    private final Map<Integer, NativeSample> nativeThreads;

    ThreadCensus(final long wallNs, final long processCpuNs, final long machineBusyJiffies, final long machineTotalJiffies,
        final Map<Long, JavaSample> javaThreads, final Map<Integer, NativeSample> nativeThreads) {
        this.wallNs = wallNs;
        this.processCpuNs = processCpuNs;
        this.machineBusyJiffies = machineBusyJiffies;
        this.machineTotalJiffies = machineTotalJiffies;
        this.javaThreads = javaThreads;
        this.nativeThreads = nativeThreads;
    }

    /** The JVM's threads now. */
    public static ThreadCensus take() {
        final long wall = System.nanoTime();
        final boolean cpu = THREADS.isThreadCpuTimeSupported() && THREADS.isThreadCpuTimeEnabled();
        final boolean alloc = THREADS.isThreadAllocatedMemorySupported() && THREADS.isThreadAllocatedMemoryEnabled();
        final Map<Long, String> names = new HashMap<>();
        final Map<Long, long[]> counters = new HashMap<>();
        for (final Thread t : liveThreads()) {
            final long id = t.threadId();
            final long ns = cpu ? THREADS.getThreadCpuTime(id) : 0;
            if (ns < 0) {
                continue; // ended since the listing
            }
            names.put(id, t.getName());
            counters.put(id, new long[] {ns, alloc ? Math.max(0, THREADS.getThreadAllocatedBytes(id)) : 0});
        }
        final Map<Integer, NativeSample> natives = readTasks(Path.of("/proc/self/task"));
        final Map<Long, Integer> tids = match(names, counters, natives);
        final Map<Long, JavaSample> java = new HashMap<>();
        names.forEach((id, name) -> java.put(id,
            new JavaSample(name, counters.get(id)[0], counters.get(id)[1], tids.getOrDefault(id, 0))));
        final long[] machine = machineJiffies();
        return new ThreadCensus(wall, Math.max(0, OS.getProcessCpuTime()), machine[0], machine[1], java, natives);
    }

    /**
     * The live platform threads of this JVM, from the root thread group ({@code Thread.getAllThreads}
     * underneath: no safepoint, no stack walk).
     */
    public static List<Thread> liveThreads() {
        ThreadGroup root = Thread.currentThread().getThreadGroup();
        while (root.getParent() != null) {
            root = root.getParent();
        }
        Thread[] all = new Thread[Math.max(16, root.activeCount() * 2)];
        int n;
        while ((n = root.enumerate(all, true)) == all.length) {
            all = new Thread[all.length * 2]; // full: there may be more
        }
        return Arrays.asList(Arrays.copyOf(all, n));
    }

    /** Every native thread under {@code taskDir} ({@code /proc/self/task}); empty without {@code /proc}. */
    static Map<Integer, NativeSample> readTasks(final Path taskDir) {
        final Map<Integer, NativeSample> n = new HashMap<>();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(taskDir)) {
            for (final Path t : tasks) {
                try {
                    final byte[] comm = Files.readAllBytes(t.resolve("comm"));
                    final int len = comm.length > 0 && comm[comm.length - 1] == '\n' ? comm.length - 1 : comm.length;
                    final String schedstat = Files.readString(t.resolve("schedstat")).strip();
                    final long ns = Long.parseLong(schedstat.substring(0, schedstat.indexOf(' ')));
                    long sleeps = 0;
                    for (final String line : Files.readAllLines(t.resolve("status"), StandardCharsets.ISO_8859_1)) {
                        if (line.startsWith("voluntary_ctxt_switches:")) {
                            sleeps = Long.parseLong(line.substring(line.indexOf(':') + 1).strip());
                        }
                    }
                    n.put(Integer.parseInt(t.getFileName().toString()),
                        new NativeSample(new String(comm, 0, len, StandardCharsets.ISO_8859_1), ns, sleeps));
                } catch (final IOException | RuntimeException e) {
                    // the thread ended between the listing and the read: not counted
                }
            }
        } catch (final IOException | RuntimeException e) {
            // no /proc: no native threads
        }
        return n;
    }

    /**
     * The native name HotSpot gives a Java thread named {@code name}: its first {@link #COMM_BYTES}
     * UTF-8 bytes, as {@link #readTasks} reads {@code comm} (one char per byte, ISO-8859-1).
     */
    static String commOf(final String name) {
        final byte[] b = name.getBytes(StandardCharsets.UTF_8);
        return new String(b, 0, Math.min(b.length, COMM_BYTES), StandardCharsets.ISO_8859_1);
    }

    /**
     * Java thread id to native thread id, per native name (the Java threads whose name gives it, the
     * native threads that carry it): first the pairs whose CPU times are the same nanoseconds (a
     * thread that ran at neither read: both read the kernel's {@code sum_exec_runtime}, and it is the
     * only one of its name with that time), then the rest in order of CPU time when their counts
     * agree, else greedily by the closest CPU times. Each native thread is paired at most once.
     */
    static Map<Long, Integer> match(final Map<Long, String> names, final Map<Long, long[]> counters,
        final Map<Integer, NativeSample> natives) {
        final Map<String, List<Long>> javaByComm = new HashMap<>();
        names.forEach((id, name) -> javaByComm.computeIfAbsent(commOf(name), k -> new ArrayList<>()).add(id));
        final Map<String, List<Integer>> tasksByComm = new HashMap<>();
        natives.forEach((tid, s) -> tasksByComm.computeIfAbsent(s.comm(), k -> new ArrayList<>()).add(tid));
        final Map<Long, Integer> out = new HashMap<>();
        for (final Map.Entry<String, List<Long>> e : javaByComm.entrySet()) {
            final List<Integer> tasks = tasksByComm.get(e.getKey());
            if (tasks != null) {
                pair(e.getValue(), tasks, id -> counters.get(id)[0], tid -> natives.get(tid).cpuNs(), out);
            }
        }
        return out;
    }

    /** {@link #match} within one native name: {@code java} and {@code tasks} with their CPU times. */
    private static void pair(final List<Long> java, final List<Integer> tasks, final ToLongFunction<Long> javaCpu,
        final ToLongFunction<Integer> taskCpu, final Map<Long, Integer> out) {
        final Map<Long, Integer> javaAt = new HashMap<>(); // CPU ns -> how many Java threads show it
        java.forEach(id -> javaAt.merge(javaCpu.applyAsLong(id), 1, Integer::sum));
        final Map<Long, List<Integer>> tasksAt = new HashMap<>();
        tasks.forEach(tid -> tasksAt.computeIfAbsent(taskCpu.applyAsLong(tid), k -> new ArrayList<>()).add(tid));
        final List<Long> restJava = new ArrayList<>();
        final Set<Integer> exact = new HashSet<>();
        for (final Long id : java) {
            final long ns = javaCpu.applyAsLong(id);
            final List<Integer> same = tasksAt.get(ns);
            if (javaAt.get(ns) == 1 && same != null && same.size() == 1) {
                out.put(id, same.get(0));
                exact.add(same.get(0));
            } else {
                restJava.add(id);
            }
        }
        final List<Integer> restTasks = new ArrayList<>(tasks.stream().filter(t -> !exact.contains(t)).toList());
        restJava.sort(Comparator.comparingLong(javaCpu).thenComparingLong(id -> id));
        restTasks.sort(Comparator.comparingLong(taskCpu).thenComparingInt(tid -> tid));
        if (restJava.size() == restTasks.size()) {
            for (int i = 0; i < restJava.size(); i++) {
                out.put(restJava.get(i), restTasks.get(i));
            }
            return;
        }
        final List<long[]> pairs = new ArrayList<>(); // {|cpu difference|, java index, task index}
        for (int j = 0; j < restJava.size(); j++) {
            for (int t = 0; t < restTasks.size(); t++) {
                pairs.add(new long[] {Math.abs(javaCpu.applyAsLong(restJava.get(j)) - taskCpu.applyAsLong(restTasks.get(t))), j, t});
            }
        }
        pairs.sort(Comparator.comparingLong((long[] p) -> p[0]).thenComparingLong(p -> p[1]).thenComparingLong(p -> p[2]));
        final Set<Long> javaDone = new HashSet<>();
        final Set<Long> tasksDone = new HashSet<>();
        for (final long[] p : pairs) {
            if (!javaDone.contains(p[1]) && !tasksDone.contains(p[2])) {
                javaDone.add(p[1]);
                tasksDone.add(p[2]);
                out.put(restJava.get((int)p[1]), restTasks.get((int)p[2]));
            }
        }
    }

    /** {busy, total} jiffies of all cores from {@code /proc/stat} (busy: all but idle and iowait); zeros elsewhere. */
    private static long[] machineJiffies() {
        long busy = 0;
        long total = 0;
        try {
            final String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            for (int i = 1; i < f.length && i <= 8; i++) {
                final long v = Long.parseLong(f[i]);
                total += v;
                if (i != 4 && i != 5) { // idle, iowait
                    busy += v;
                }
            }
        } catch (final IOException | RuntimeException e) {
            // not Linux: no machine figures
        }
        return new long[] {busy, total};
    }

    /** From {@code before} to this snapshot. */
    public Delta since(final ThreadCensus before) {
        return new Delta(before, this);
    }

    /**
     * What happened between two snapshots. Per-thread figures cover the Java threads alive at the
     * second snapshot (a thread born in between counts from 0; one that ended in between is missed,
     * except in the process and native totals).
     */
    public static final class Delta {
        private final ThreadCensus before;
        private final ThreadCensus after;

        Delta(final ThreadCensus before, final ThreadCensus after) {
            this.before = before;
            this.after = after;
        }

        /** Wall nanoseconds between the snapshots. */
        public long wallNs() {
            return after.wallNs - before.wallNs;
        }

        /** The process's CPU nanoseconds (every thread, ended ones included). */
        public long processCpuNs() {
            return after.processCpuNs - before.processCpuNs;
        }

        /** CPU nanoseconds of the native threads alive at the second snapshot. */
        public long nativeCpuNs() {
            long n = 0;
            for (final Map.Entry<Integer, NativeSample> e : after.nativeThreads.entrySet()) {
                final NativeSample then = before.nativeThreads.get(e.getKey());
                n += Math.max(0, e.getValue().cpuNs() - (then == null ? 0 : then.cpuNs()));
            }
            return n;
        }

        /**
         * Voluntary context switches (sleeps that a wake-up ended) of the native threads alive at the
         * second snapshot (from 0 for one born in between).
         */
        public long nativeSleeps() {
            long n = 0;
            for (final Map.Entry<Integer, NativeSample> e : after.nativeThreads.entrySet()) {
                final NativeSample then = before.nativeThreads.get(e.getKey());
                n += Math.max(0, e.getValue().sleeps() - (then == null ? 0 : then.sleeps()));
            }
            return n;
        }

        /** Busy jiffies of all cores ({@code /proc/stat}: 10 ms each), every process. */
        public long machineBusyJiffies() {
            return after.machineBusyJiffies - before.machineBusyJiffies;
        }

        /** All jiffies of all cores. */
        public long machineTotalJiffies() {
            return after.machineTotalJiffies - before.machineTotalJiffies;
        }

        /**
         * Per group of Java threads ({@code group} maps a thread's name to its group):
         * {@code {cpu ns, sleeps, allocated bytes}}, over the threads alive at the second snapshot that
         * used CPU or slept in between.
         */
        public Map<String, long[]> byGroup(final Function<String, String> group) {
            final Map<String, long[]> m = new TreeMap<>();
            for (final Map.Entry<Long, JavaSample> e : after.javaThreads.entrySet()) {
                final JavaSample now = e.getValue();
                final JavaSample then = before.javaThreads.get(e.getKey());
                final long dc = now.cpuNs() - (then == null ? 0 : then.cpuNs());
                final long ds = sleepsOf(now.tid(), then != null);
                final long da = now.allocBytes() - (then == null ? 0 : then.allocBytes());
                if (dc <= 0 && ds <= 0) {
                    continue;
                }
                final long[] v = m.computeIfAbsent(group.apply(now.name()), k -> new long[3]);
                v[0] += Math.max(0, dc);
                v[1] += ds;
                v[2] += Math.max(0, da);
            }
            return m;
        }

        /** Sleeps of native thread {@code tid} in between (from 0 for a thread born in between). */
        private long sleepsOf(final int tid, final boolean aliveBefore) {
            final NativeSample now = tid == 0 ? null : after.nativeThreads.get(tid);
            if (now == null) {
                return 0;
            }
            final NativeSample then = aliveBefore ? before.nativeThreads.get(tid) : null;
            return Math.max(0, now.sleeps() - (then == null ? 0 : then.sleeps()));
        }

        /**
         * The JVM's own threads, which are not Java threads (JIT compilers, GC, the VM thread), by
         * {@code comm} with digits folded and a {@code jvm:} prefix: CPU nanoseconds in between.
         */
        public Map<String, Long> jvmThreadsCpuNs() {
            final Set<Integer> java = new HashSet<>();
            after.javaThreads.values().forEach(s -> java.add(s.tid()));
            final Map<String, Long> m = new TreeMap<>();
            for (final Map.Entry<Integer, NativeSample> e : after.nativeThreads.entrySet()) {
                final String comm = e.getValue().comm();
                if (java.contains(e.getKey()) || !(comm.startsWith("C1 Comp") || comm.startsWith("C2 Comp")
                    || comm.startsWith("GC ") || comm.startsWith("G1 ") || comm.startsWith("VM "))) {
                    continue;
                }
                final NativeSample then = before.nativeThreads.get(e.getKey());
                final long d = e.getValue().cpuNs() - (then == null ? 0 : then.cpuNs());
                if (d > 0) {
                    m.merge("jvm:" + folded(comm), d, Long::sum);
                }
            }
            return m;
        }
    }

    // ----- groupings -------------------------------------------------------------------------------

    /** A thread's name with every run of digits as one {@code #}: the vCPUs of a kernel are one group. */
    public static String folded(final String name) {
        return name.replaceAll("[0-9]+", "#");
    }

    /**
     * The kind of a Java thread by its name: {@link #folded}, and the instance names of the benchmark's
     * kernels cut to their role ({@code "server"}, {@code "client"}, {@code "one"}, {@code "twin"}):
     * {@code "k2k-bench-server-3-osvj-vcpu-carrier-0"} is {@code "server-#-osvj-vcpu-carrier-#"}; {@code ClosedLoop}'s
     * {@code bench-client-N} threads are {@code "load-client-#"}.
     */
    public static String kind(final String name) {
        String k = folded(name);
        if (k.startsWith("bench-client-")) {
            return "load-client-#";
        }
        for (final String role : new String[] {"server", "client", "one", "twin"}) {
            final int at = k.indexOf("-" + role + "-");
            if (at >= 0) {
                k = role + k.substring(at + role.length() + 1);
                break;
            }
        }
        return k;
    }

    // ----- report rows -----------------------------------------------------------------------------

    /**
     * The apps suite's rows, per request, into {@code out}: {@code cpu_us.jvm} (process CPU µs),
     * {@code sleeps.jvm} (voluntary context switches of the native threads, {@link Delta#nativeSleeps}),
     * {@code cpu_us.server_process} (when {@code externalCpuNs > 0}: a native server's CPU),
     * {@code machine_busy_fraction} and {@code cpu_us.machine} (every core, every process), and by
     * thread name with digits folded ({@link #folded}): {@code cpu_us.thread.G} (at least 0.05 µs per
     * request; JVM threads as {@code jvm:COMM}; {@code unlisted(clients)} is what no live thread
     * accounts for, mostly threads that ended with the run) and {@code waits.thread.G} (sleeps, at least
     * 0.01 per request).
     */
    public static void perRequestByName(final Delta d, final double requests, final long externalCpuNs,
        final Map<String, Double> out) {
        if (requests <= 0) {
            return;
        }
        out.put("cpu_us.jvm", round(d.processCpuNs() / 1e3 / requests));
        final long sleeps = d.nativeSleeps();
        if (sleeps > 0) {
            out.put("sleeps.jvm", round(sleeps / requests));
        }
        if (externalCpuNs > 0) {
            out.put("cpu_us.server_process", round(externalCpuNs / 1e3 / requests));
        }
        final long total = d.machineTotalJiffies();
        if (total > 0) {
            out.put("machine_busy_fraction", round((double)d.machineBusyJiffies() / total));
            out.put("cpu_us.machine", round(d.machineBusyJiffies() * 10_000.0 / requests));
        }
        final Map<String, Long> groups = new TreeMap<>();
        d.byGroup(ThreadCensus::folded).forEach((g, v) -> {
            if (v[0] > 0) {
                groups.put(g, v[0]);
            }
            if (v[1] / requests >= 0.01) {
                out.put("waits.thread." + g, round(v[1] / requests));
            }
        });
        d.jvmThreadsCpuNs().forEach((g, ns) -> groups.merge(g, ns, Long::sum));
        final long listed = groups.values().stream().mapToLong(Long::longValue).sum();
        groups.put("unlisted(clients)", d.processCpuNs() - listed);
        groups.forEach((g, ns) -> {
            if (ns / 1e3 / requests >= 0.05) {
                out.put("cpu_us.thread." + g, round(ns / 1e3 / requests));
            }
        });
    }

    /**
     * The fleet suite's rows, per request: {@code cpu_us.KIND} and {@code waits.KIND} (CPU µs and sleeps
     * per request, {@link #kind}) for the kinds with at least 2% of the process's CPU or 0.05 sleeps per
     * request; {@code cpu_us.process} and {@code sleeps.process} (every native thread: CPU, voluntary
     * context switches), {@code cpu_us.other} (JIT, GC and other non-Java threads) and
     * {@code cores_busy} (process CPU over wall time: 2.0 is both cores of this machine busy with this
     * JVM). Empty without native figures or requests.
     */
    public static Map<String, Double> perRequestByKind(final Delta d, final double requests) {
        final Map<String, Double> m = new TreeMap<>();
        final long processCpu = d.nativeCpuNs();
        if (requests <= 0 || d.wallNs() <= 0 || processCpu <= 0) {
            return m;
        }
        long javaCpu = 0;
        for (final Map.Entry<String, long[]> e : d.byGroup(ThreadCensus::kind).entrySet()) {
            final long[] v = e.getValue();
            javaCpu += v[0];
            final double waits = v[1] / requests;
            if (v[0] * 50 >= processCpu || waits >= 0.05) {
                m.put("cpu_us." + e.getKey(), round(v[0] / 1e3 / requests));
                m.put("waits." + e.getKey(), round(waits));
            }
        }
        m.put("cpu_us.process", round(processCpu / 1e3 / requests));
        m.put("cpu_us.other", round(Math.max(0, processCpu - javaCpu) / 1e3 / requests));
        m.put("sleeps.process", round(d.nativeSleeps() / requests));
        m.put("cores_busy", round((double)processCpu / d.wallNs()));
        return m;
    }

    private static double round(final double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    /**
     * A census window inside a load run: a daemon thread ({@code bench-census}) takes a census
     * {@code fromNs} after construction and another {@code toNs} after it, so threads that the load
     * starts and ends (its client threads) are alive at both; {@link #delta()} waits for the second.
     */
    public static final class Window {
        private final CompletableFuture<Delta> delta = new CompletableFuture<>();
        private final long lengthNs;

        public Window(final long fromNs, final long toNs) {
            this.lengthNs = toNs - fromNs;
            final long start = System.nanoTime();
            Thread.ofPlatform().daemon().name("bench-census").start(() -> {
                try {
                    LockSupport.parkNanos(fromNs);
                    final ThreadCensus before = take();
                    LockSupport.parkNanos(toNs - (System.nanoTime() - start));
                    delta.complete(take().since(before));
                } catch (final RuntimeException | Error e) {
                    delta.completeExceptionally(e);
                }
            });
        }

        /** Requests in the window at {@code opsPerSecond}. */
        public double requests(final double opsPerSecond) {
            return opsPerSecond * lengthNs / 1e9;
        }

        /** The window's delta; null if it did not end within 10 s of the window's end. */
        public Delta delta() {
            try {
                return delta.get(10, TimeUnit.SECONDS);
            } catch (final Exception e) {
                return null;
            }
        }

        /** {@link #perRequestByKind} of the window at {@code opsPerSecond}; empty without a delta. */
        public Map<String, Double> perRequest(final double opsPerSecond) {
            final Delta d = delta();
            return d == null ? new TreeMap<>() : perRequestByKind(d, requests(opsPerSecond));
        }
    }
}
