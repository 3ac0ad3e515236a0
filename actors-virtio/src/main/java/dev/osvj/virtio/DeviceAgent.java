package dev.osvj.virtio;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.IdleStrategy;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The backend's duty cycle ("the hypervisor thread"): an Agrona {@link Agent} that runs
 * {@link VirtioDevice#work} for each of its devices. An {@link AgentRunner} calls {@link #doWork} in
 * a loop and idles with the configured {@link IdleStrategy} when a cycle did nothing; a driver's
 * kick unparks the runner thread, so a parked backend wakes at once (Agrona's backoff strategy parks
 * with {@code parkNanos}, which {@code unpark} ends early). While the agent finds work it keeps
 * kicks off (see {@link VirtioDevice#work}), so drivers kick only an idle backend.
 *
 * <p>A device whose {@code doWork} throws is a backend bug: it is marked DEVICE_NEEDS_RESET and the
 * error counted; the other devices keep running.
 */
public final class DeviceAgent implements Agent {
    private final String name;
    private final List<VirtioDevice> devices = new CopyOnWriteArrayList<>();
    private final AtomicLong errors = new AtomicLong();
    private volatile Thread thread;
    private volatile Throwable lastError;

    public DeviceAgent(final String name) {
        this.name = name;
    }

    /** Run {@code device} on this agent; its kicks wake this agent's thread. */
    public void add(final VirtioDevice device) {
        device.wakeup(this::wake);
        devices.add(device);
        wake();
    }

    public void remove(final VirtioDevice device) {
        devices.remove(device);
    }

    /** Wake the runner thread if it is parked (a kick). Any thread; never blocks. */
    public void wake() {
        final Thread t = thread;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    @Override
    public void onStart() {
        thread = Thread.currentThread();
    }

    @Override
    public int doWork() {
        int work = 0;
        for (final VirtioDevice d : devices) {
            try {
                work += d.work();
            } catch (final Exception | AssertionError e) {
                errors.incrementAndGet();
                lastError = e;
                d.needsReset();
            }
        }
        return work;
    }

    @Override
    public void onClose() {
        thread = null;
    }

    @Override
    public String roleName() {
        return name;
    }

    /** True when any device must be polled while idle ({@link VirtioDevice#needsPolling}); any thread. */
    public boolean needsPolling() {
        for (final VirtioDevice d : devices) {
            if (d.needsPolling()) {
                return true;
            }
        }
        return false;
    }

    public long errors() {
        return errors.get();
    }

    public Throwable lastError() {
        return lastError;
    }

    /** Start {@code agent} on its own daemon thread named after it. */
    public static AgentRunner start(final DeviceAgent agent, final IdleStrategy idle) {
        final AgentRunner runner = new AgentRunner(idle, Throwable::printStackTrace, null, agent);
        AgentRunner.startOnThread(runner, r -> {
            final Thread t = new Thread(r, agent.roleName());
            t.setDaemon(true);
            return t;
        });
        return runner;
    }
}
