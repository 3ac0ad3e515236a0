package dev.osvj.virtio;

import dev.osvj.sched.KThread;
import dev.osvj.sched.Scheduler;
import dev.osvj.virtio.ring.Notifier;
import org.apache.pekko.actor.typed.ActorRef;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A device's interrupt line to its driver: {@link #notify} either runs the driver's handler at once on
 * the calling thread (an <em>inline</em> interrupt, see below) or sends one preallocated
 * {@link InterruptActor.Interrupt} message per queue to the driver's {@link InterruptActor}, and
 * coalesces: while a queue's interrupt is pending (in the actor's mailbox, or about to be run inline),
 * further interrupts for it are dropped (the driver will see their completions when it handles the
 * pending one). The pending mark is cleared before the handler polls the queue, so no completion is
 * ever left without an interrupt after it.
 *
 * <p><b>Inline interrupts</b> (OSv runs its classifier in the receive interrupt's context, not in a
 * thread it wakes; a line built with its driver, which the kernel does when {@link #INLINE_PROPERTY} is
 * true): for the queues the driver names ({@link VirtioDriver#inlineInterrupt}, virtio-net's
 * receive queue), an interrupt raised by a host thread (the device's backend thread, the user
 * gateway's loop, the switch) runs the driver's handler on that thread, so a received frame reaches
 * its flow's net channel, and the application thread waiting for it is woken, without first waking a
 * vCPU to run the interrupt actor's mailbox: one cross-core wake-up fewer per receive batch, and no
 * mailbox run. The driver's handlers stay single-threaded: every handler run, inline or by the actor,
 * holds the line's <em>interrupt context</em> ({@link #context}, a non-reentrant flag taken with one
 * CAS). An inline interrupt that finds the context taken (the actor or another thread is in a handler,
 * or the handler itself raised an interrupt on the same thread) goes to the actor instead, and the
 * actor, finding the context taken, puts the message back in its own mailbox and tries again later
 * (it never blocks a vCPU). An interrupt raised on a kernel thread of the driver's own kernel (a vCPU:
 * the actor's restart, a test's kernel code) always goes to the actor. One raised on a kernel thread of
 * <em>another</em> kernel in the JVM (a line built with its kernel's {@link Scheduler}) runs inline like a
 * host thread's: that thread is forwarding its own guest's frame into this one (a virtual switch's
 * inline transmit), and to this kernel it is an outside thread, as a device thread is. The handler
 * (the driver's receive, the stack's classifier) takes only JDK locks and wakes threads through
 * {@code WaitRecord}s, whose wake-ups from another scheduler's vCPU go through the destination vCPU's
 * foreign queue; it reaches no preemption point, so the borrowed kernel thread is not switched out
 * inside it. A handler that throws inline is a kernel bug as
 * before: the throwable is sent to the actor ({@link InterruptActor.Failed}), which rethrows it, so
 * its supervisor restarts it and the restart raises every queue again (see {@link InterruptActor}).
 *
 * <p>Index 0 of the pending marks is the config-change interrupt; queue q uses q + 1. The config-change
 * interrupt and the queues a driver does not name always go through the actor (a config change may
 * reset the device, which must not happen inside the device's own call that raised the interrupt).
 *
 * <p><b>Deferred inline interrupts</b> ({@link #deferInline}/{@link #runDeferred}): a thread that
 * raises interrupts while it holds a lock of its own that it must not hold while a guest's handler
 * runs (a virtual switch's device or switch thread forwarding a frame into a guest under its
 * forwarding lock) may open a deferral scope: the inline interrupts it raises inside are recorded on
 * the thread (their pending marks set, so they coalesce as usual) and run when it closes the scope,
 * after it released that lock. Only for threads that hold no guest stack's lock: a handler run later
 * may wait for any stack's locks. Scopes nest; outside a scope nothing changes.
 *
 * <p>Memory ordering: the context flag's CAS (acquire) and its release store order one handler run
 * before the next, on whichever thread each runs.
 */
public final class InterruptLine implements Notifier {
    /**
     * System property: {@code true} makes the kernel's virtio subsystem wire its drivers with inline
     * interrupts ({@link #inlineByDefault()}); {@code false} (the default for now) sends every interrupt
     * through the actor. Off by default because a tap load test showed, 2 times in about 30 runs under
     * heavy host load, one connection whose reply never came (a 30 s client timeout) with it on, and
     * none in 13 runs with it off; the cause is not found yet. Also the A/B switch for the hand-off.
     * Re-measured after the TCP fix for full-sized segments with SACK blocks over the MTU (a bug that stalls
     * a connection exactly so): 25 tap and 24 user load runs with it on under heavy host load showed no
     * stalled reply (slowest request 0.2 s); it stays off because those runs showed no gain either (user
     * gateway: IPIs gone and the gateway loop's stack-lock waits down by a third, but receive handler runs
     * doubled on the loop's thread, and throughput in interleaved pairs was not higher).
     */
    public static final String INLINE_PROPERTY = "dev.osvj.virtio.inline-interrupts";
    private static final boolean INLINE_BY_DEFAULT = Boolean.parseBoolean(System.getProperty(INLINE_PROPERTY, "false"));

    private final ActorRef<InterruptActor.Command> actor;
    private final InterruptActor.Interrupt[] messages;
    private final AtomicIntegerArray pending;
    /** The driver whose handler runs inline; null: every interrupt goes to the actor. */
    private final VirtioDriver driver;
    /** Per slot: the driver lets this queue's interrupt run inline. */
    private final boolean[] inline;
    /** Interrupts handled, inline or by the actor (the actor's counter, shared, for lsdev). */
    private final AtomicLong handled;
    /** The driver's kernel, whose own kernel threads never run its handler inline; null: no kernel thread does. */
    private final Scheduler kernel;
    /** The interrupt context: taken (true) while a handler of this driver runs, on any thread. */
    private final AtomicBoolean context = new AtomicBoolean();
    private final AtomicLong inlineRuns = new AtomicLong();
    private final AtomicLong deferred = new AtomicLong();

    /** A line whose interrupts all go through {@code actor}. */
    public InterruptLine(final ActorRef<InterruptActor.Command> actor, final int queues) {
        this(actor, queues, null, new AtomicLong());
    }

    /**
     * A line to {@code driver}'s interrupt actor, which runs the interrupts of the queues the driver
     * names ({@link VirtioDriver#inlineInterrupt}) inline when a host thread raises them.
     *
     * @param driver  the driver whose handler may run inline; null: every interrupt goes to the actor.
     * @param handled the actor's counter of interrupts handled (inline runs are counted there too).
     */
    public InterruptLine(final ActorRef<InterruptActor.Command> actor, final int queues, final VirtioDriver driver,
        final AtomicLong handled) {
        this(actor, queues, driver, handled, null);
    }

    /**
     * {@link #InterruptLine(ActorRef, int, VirtioDriver, AtomicLong)} whose inline interrupts also run on
     * kernel threads of kernels other than {@code kernel} (the driver's own; see the class comment).
     */
    public InterruptLine(final ActorRef<InterruptActor.Command> actor, final int queues, final VirtioDriver driver,
        final AtomicLong handled, final Scheduler kernel) {
        this.kernel = kernel;
        this.actor = actor;
        this.messages = new InterruptActor.Interrupt[queues + 1];
        for (int i = 0; i < messages.length; i++) {
            messages[i] = new InterruptActor.Interrupt(i - 1, this);
        }
        this.pending = new AtomicIntegerArray(queues + 1);
        this.driver = driver;
        this.handled = handled;
        this.inline = new boolean[queues + 1];
        if (this.driver != null) {
            for (int q = 0; q < queues; q++) {
                inline[q + 1] = driver.inlineInterrupt(q);
            }
        }
    }

    /** Whether the kernel wires drivers with inline interrupts ({@link #INLINE_PROPERTY}). */
    public static boolean inlineByDefault() {
        return INLINE_BY_DEFAULT;
    }

    @Override
    public void notify(final int queueIndex) {
        final int slot = queueIndex + 1;
        if (!pending.compareAndSet(slot, 0, 1)) {
            return; // coalesced with the pending one
        }
        if (inline[slot] && outsider()) {
            final Deferred d = DEFERRED.get();
            if (d.depth > 0) {
                d.add(this, queueIndex);
                return;
            }
            if (enter()) {
                runInline(queueIndex);
                return;
            }
        }
        actor.tell(messages[slot]);
    }

    /** A deferred interrupt's turn: inline if the context is free, else to the actor (pending mark still set). */
    private void raiseDeferred(final int queueIndex) {
        if (enter()) {
            runInline(queueIndex);
        } else {
            actor.tell(messages[queueIndex + 1]);
        }
    }

    /** Per thread: the inline interrupts raised in its open deferral scopes, in order. */
    private static final class Deferred {
        InterruptLine[] lines = new InterruptLine[8];
        int[] queues = new int[8];
        int count;
        int depth;

        void add(final InterruptLine line, final int queueIndex) {
            if (count == lines.length) {
                lines = java.util.Arrays.copyOf(lines, count * 2);
                queues = java.util.Arrays.copyOf(queues, count * 2);
            }
            lines[count] = line;
            queues[count++] = queueIndex;
        }
    }

    private static final ThreadLocal<Deferred> DEFERRED = ThreadLocal.withInitial(Deferred::new);

    /**
     * Open a deferral scope on the calling host thread (see the class comment): inline interrupts it
     * raises until {@link #runDeferred} are run there instead of at once.
     *
     * @return the scope's mark, for {@link #runDeferred}.
     */
    public static int deferInline() {
        final Deferred d = DEFERRED.get();
        d.depth++;
        return d.count;
    }

    /**
     * Close the scope {@code mark} opened ({@link #deferInline}) and run the interrupts deferred in it,
     * in the order they were raised, each inline if its line's interrupt context is free, else through
     * its actor. Call it after releasing the lock the scope was opened for, in a {@code finally}.
     */
    public static void runDeferred(final int mark) {
        final Deferred d = DEFERRED.get();
        d.depth--;
        int i = mark;
        try {
            for (; i < d.count; i++) { // a handler run here may defer more (a nested scope's leftovers): run them too
                d.lines[i].raiseDeferred(d.queues[i]);
                d.lines[i] = null;
            }
        } finally {
            for (; i < d.count; i++) { // only after a throwable: the rest go to their actors (a spurious one is harmless)
                final InterruptLine line = d.lines[i];
                if (line != null) {
                    d.lines[i] = null;
                    line.actor.tell(line.messages[d.queues[i] + 1]);
                }
            }
            d.count = mark;
        }
    }

    /** The calling thread is outside the driver's kernel: a host thread, or a kernel thread of another kernel. */
    private boolean outsider() {
        final KThread k = KThread.current();
        return k == null || kernel != null && k.scheduler() != kernel;
    }

    /** Run the handler of {@code queueIndex} here (context held); a throwable goes to the actor. */
    private void runInline(final int queueIndex) {
        try {
            taken(queueIndex);
            handled.incrementAndGet();
            inlineRuns.incrementAndGet();
            driver.onInterrupt(queueIndex);
        } catch (final Throwable e) {
            actor.tell(new InterruptActor.Failed(e, this));
        } finally {
            leave();
        }
    }

    /** Take the interrupt context; false when a handler runs now (on this thread or another). */
    boolean enter() {
        return !context.get() && context.compareAndSet(false, true);
    }

    /** Give the interrupt context back (release). */
    void leave() {
        context.set(false);
    }

    /** Interrupts run inline on the raising thread so far. */
    public long inlineRuns() {
        return inlineRuns.get();
    }

    /** Times the actor found the interrupt context taken and tried again later. */
    public long deferred() {
        return deferred.get();
    }

    void countDeferred() {
        deferred.incrementAndGet();
    }

    /** The line's state, for diagnostics: pending marks per slot, context, inline runs, deferrals. */
    @Override
    public String toString() {
        return "irq pending=" + pending + " context=" + (context.get() ? "taken" : "free") + " inline_runs="
            + inlineRuns.get() + " deferred=" + deferred.get() + " handled=" + handled.get();
    }

    /**
     * Raise every queue's interrupt and the config-change one (coalesced with those still pending): a
     * restarted handler must look at every queue, because the crashed one may have left a queue with
     * its interrupts suppressed and completions unprocessed.
     */
    void raiseAll() {
        for (int slot = 0; slot < messages.length; slot++) {
            notify(slot - 1);
        }
    }

    /** The handler took the interrupt of {@code queueIndex}: the next one must be sent again. */
    void taken(final int queueIndex) {
        pending.set(queueIndex + 1, 0);
    }
}
