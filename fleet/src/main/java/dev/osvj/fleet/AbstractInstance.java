package dev.osvj.fleet;

/**
 * The state machine every {@link Instance} shares (see {@link InstanceState}): what the table shows,
 * and the transitions, each under this object's monitor. A subclass boots in {@link #start} and calls
 * {@link #booted}, {@link #running}, {@link #fail} or {@link #ended}; {@link #stop} is a template over
 * {@link #powerOff}.
 */
abstract class AbstractInstance implements Instance {
    private final String name;
    private final String service;
    private final String node;
    private final String address;

    private volatile InstanceState state = InstanceState.BOOTING;
    private volatile String detail = "";
    private volatile double bootMillis = Double.NaN;
    private volatile long bootedAtNanos;
    private volatile boolean stopRequested;
    /** How many times the fleet restarted this replica before this instance (shown in the table). */
    private volatile int restarts;
    /** Told once when the instance went down without a stop request (the fleet's restart policy). */
    private volatile DownListener downListener;
    private final java.util.concurrent.atomic.AtomicBoolean downTold = new java.util.concurrent.atomic.AtomicBoolean();

    /** Who hears of an instance going down by itself. */
    interface DownListener {
        /**
         * {@code instance} is FAILED or STOPPED without a stop request, after running {@code ranNanos}
         * (0 when it never booted). Called once, on the thread that saw it go down; must not block.
         */
        void onDown(Instance instance, long ranNanos);
    }

    AbstractInstance(final String name, final String service, final String node, final String address) {
        this.name = name;
        this.service = service;
        this.node = node;
        this.address = address;
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final String service() {
        return service;
    }

    /** The boot took {@code millis}; uptime counts from now. */
    final void booted(final double millis) {
        bootMillis = millis;
        bootedAtNanos = System.nanoTime();
    }

    final boolean hasBooted() {
        return !Double.isNaN(bootMillis);
    }

    /** BOOTING → RUNNING (no change from any other state). */
    final synchronized void running() {
        if (state == InstanceState.BOOTING) {
            state = InstanceState.RUNNING;
        }
    }

    final void fail(final String why) {
        synchronized (this) {
            state = InstanceState.FAILED;
            detail = why;
        }
        toldDown();
    }

    /** Set before {@link #start}: the listener, and the replica's restart count so far. */
    final void watch(final DownListener listener, final int restartsSoFar) {
        this.downListener = listener;
        this.restarts = restartsSoFar;
    }

    private void toldDown() {
        final DownListener l = downListener;
        if (l != null && !stopRequested && downTold.compareAndSet(false, true)) {
            l.onDown(this, hasBooted() ? System.nanoTime() - bootedAtNanos : 0);
        }
    }

    /**
     * The instance is gone (its kernel powered off, its process exited) with {@code code}: STOPPED when
     * a stop was asked or the code is 0, else FAILED with {@code how}.
     */
    final void ended(final int code, final String how) {
        synchronized (this) {
            if (state == InstanceState.FAILED) {
                return;
            }
            if (stopRequested) {
                state = InstanceState.STOPPED;
            } else {
                state = code == 0 ? InstanceState.STOPPED : InstanceState.FAILED;
                detail = how;
            }
        }
        toldDown();
    }

    final InstanceState state() {
        return state;
    }

    /** Power the instance off in order and wait for it (a subclass's part of {@link #stop}). */
    abstract void powerOff() throws InterruptedException;

    @Override
    public final void stop() throws InterruptedException {
        synchronized (this) {
            stopRequested = true;
            if (state == InstanceState.RUNNING || state == InstanceState.BOOTING) {
                state = InstanceState.STOPPING;
            }
        }
        powerOff();
        synchronized (this) {
            if (state == InstanceState.STOPPING) {
                state = InstanceState.STOPPED;
            }
        }
    }

    @Override
    public final InstanceStatus status() {
        final InstanceState s = state;
        final long up = s == InstanceState.RUNNING ? (System.nanoTime() - bootedAtNanos) / 1_000_000 : 0;
        return new InstanceStatus(name, service, node, s, address, bootMillis, up, detail, restarts);
    }
}
