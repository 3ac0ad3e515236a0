/**
 * The arch layer: {@link dev.osvj.sched.arch.ContextSwitch} creates the per-thread
 * {@link dev.osvj.sched.arch.ThreadContext} that a vCPU resumes and a thread suspends, with two
 * implementations: {@code jdk.internal.vm.Continuation}s (default) and platform threads handing the vCPU
 * over with park/unpark (benchmark comparison). Nothing above this package knows which one runs.
 */
package dev.osvj.sched.arch;
