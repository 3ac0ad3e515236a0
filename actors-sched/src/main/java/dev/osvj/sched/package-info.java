/**
 * The scheduler: vCPUs, kernel threads, OSv's fair tickless policy, timers, and OSv's lock-free
 * synchronisation.
 *
 * <h2>Map</h2>
 * <ul>
 *   <li>{@link dev.osvj.sched.Scheduler}: one per kernel instance; published by
 *       {@link dev.osvj.sched.SchedSubsystem} as a service. Creates {@link dev.osvj.sched.KThread}s
 *       ({@link dev.osvj.sched.ThreadAttr}), runs the kernel dispatcher's queues, exposes
 *       {@link dev.osvj.sched.CpuStats}.</li>
 *   <li>A vCPU is a {@code VcpuActor} on its own carrier thread plus a {@code Cpu} (run queue ordered
 *       by decayed runtime, per-vCPU timer set, incoming-wakeup queues, pending mask). The vCPU's
 *       loop resumes kernel threads through the arch layer ({@link dev.osvj.sched.arch}).</li>
 *   <li>Policy ({@code Policy}, {@code ThreadRuntime}): OSv's constants (tau 200 ms, thyst 5 ms,
 *       10 us switch penalty, float priorities, real-time FIFO or round-robin) and arithmetic
 *       (R'' = priority-weighted runtime in units of the vCPU's factor c, renormalisation at 2^63,
 *       export/import on migration,
 *       one-shot preemption deadlines tau*ln(1 + dR/(p c))).</li>
 *   <li>Time: the kernel clock is injectable ({@link dev.osvj.kernel.KernelClock});
 *       {@link dev.osvj.sched.ManualClock} gives virtual time whose advance fires vCPU deadlines,
 *       the host clock gets a clock-event thread ({@code HostClockDevice}). {@code osvj.sched.tick}
 *       switches to a periodic 100/1000 Hz tick for A/B measurements.</li>
 *   <li>Synchronisation: {@link dev.osvj.sched.WaitRecord}, {@link dev.osvj.sched.Waitable},
 *       {@link dev.osvj.sched.Timer}, {@link dev.osvj.sched.Mutex} (bound to one vCPU and free of atomics,
 *       with direct hand-over, while only that vCPU's threads use it; otherwise lock-free with release,
 *       wake-one and lock stealing, handing over only to a waiter starved for 200 us, so a waiter on a
 *       descheduled vCPU never owns it; a woken waiter preempts a running fair thread at once, the
 *       lock boost, instead of waiting up to thyst),
 *       {@link dev.osvj.sched.CondVar} (wait morphing), {@link dev.osvj.sched.WaitQueue},
 *       {@link dev.osvj.sched.Semaphore}, {@link dev.osvj.sched.RwLock},
 *       {@link dev.osvj.sched.SpinLock} (for the lock-holder-preemption experiment only). All of them
 *       also work from host threads (they park instead of switching), so tests and boot code can use
 *       them.</li>
 *   <li>Idle: a vCPU halts into its actor's mailbox, or waits in an installed
 *       {@link dev.osvj.sched.HaltWait} (the user gateway's selector, the switch's parked carrier).
 *       {@link dev.osvj.sched.DirectedYield} is the halt wait that kernels of one JVM share: a vCPU whose
 *       thread woke a parked vCPU runs that vCPU's loop on its own carrier ({@code Cpu.runLent}) instead of
 *       waking the parked carrier, so a vCPU's loop runs on whichever carrier lends itself, one at a time.</li>
 * </ul>
 *
 * <h2>The limit: preemption happens at preemption points only</h2>
 * OSv preempts a thread anywhere: the timer interrupt fires, and the interrupt exit calls the
 * scheduler. Java code cannot be interrupted asynchronously, so osvj only switches a running thread
 * at a <em>preemption point</em>:
 * <ul>
 *   <li>every blocking call ({@code waitUntil}, {@code waitFor}, {@code sleep}, {@code join}, a
 *       contended {@code Mutex.lock}, {@code CondVar.await}, ...) and {@link dev.osvj.sched.KThread#yield()};</li>
 *   <li>every kernel entry: {@code Mutex.lock()} and the system-call layers of the other subsystems
 *       call {@link dev.osvj.sched.KThread#preemptionPoint()};</li>
 *   <li>every kernel-dispatcher task (one actor mailbox run) ends with a preemption point;</li>
 *   <li>{@link dev.osvj.sched.KThread#preemptionPoint()} called explicitly by long computations;</li>
 *   <li>{@link dev.osvj.sched.KThread#preemptEnable()} when the count drops to zero.</li>
 * </ul>
 * A preemption point costs two volatile reads when nothing is pending. When the one-shot preemption
 * deadline passes, the clock-event device only raises the vCPU's timer-interrupt bit; the running
 * thread notices it at its next preemption point. Consequences, stated rather than hidden:
 * <ul>
 *   <li>a thread that computes for a long time without reaching a preemption point keeps its vCPU
 *       for that long: fairness, wakeup latency and the balancer's view of the vCPU are only as good
 *       as the density of preemption points;</li>
 *   <li>a thread that blocks its carrier in a JDK call ({@code Thread.sleep}, {@code LockSupport.park},
 *       {@code Object.wait}, blocking I/O) stops the whole vCPU; the blocked-carrier watchdog reports it
 *       ({@code osvj.sched.blocked-carrier-threshold});</li>
 *   <li>with the continuation arch, {@code Thread.currentThread()} in a kernel thread is the thread's
 *       own {@link dev.osvj.sched.arch.KernelThreadIdentity}, the same object on every carrier, as the
 *       JDK mounts a virtual thread: JDK lock ownership, {@code ThreadLocal}s, monitors and
 *       {@code LockSupport} waiters are the kernel thread's and survive migration between vCPUs (the
 *       JIT treats {@code currentThread()} as constant within a compiled method, so with the carrier as
 *       identity a migrated thread kept naming its old carrier: {@code IllegalMonitorStateException}
 *       in the socket layer). It needs {@code --add-opens java.base/java.lang=ALL-UNNAMED} (in
 *       {@code osvj.jvm.flags}); without it the scheduler logs a warning and kernel threads are their
 *       carrier again, safe for JDK locks only when pinned ({@link dev.osvj.sched.ThreadAttr#pinnedTo});</li>
 *   <li>a kernel thread that blocks in a JDK lock another kernel thread of its vCPU holds blocks that
 *       vCPU's carrier, and the holder can then only release it from another vCPU: use
 *       {@link dev.osvj.sched.Mutex} for locks held across blocking calls. A switch refused by the JVM
 *       (a native frame or {@code Continuation.pin()} on the stack) keeps the thread
 *       running and is counted ({@link dev.osvj.sched.CpuStats#pinnedRefusals()});</li>
 *   <li>CPU time is accounted at switches: a running thread's {@code cpuTimeNanos} lags by at most
 *       its current slice.</li>
 * </ul>
 *
 * <h2>Conventions</h2>
 * Times are nanoseconds of the kernel clock unless named otherwise ({@code hostNanos}). Fields of a
 * vCPU are owned by that vCPU's carrier and plain; cross-vCPU state is volatile or accessed through
 * {@code VarHandle}s whose access mode (release, acquire, volatile) is the documented ordering.
 * Statistics are single-writer counters read racily.
 */
package dev.osvj.sched;
