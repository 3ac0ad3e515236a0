/**
 * The kernel dispatcher: Pekko dispatchers whose mailbox runs are tasks on the vCPUs
 * ({@link dev.osvj.sched.dispatch.VcpuDispatcher#pekkoConfig()},
 * {@link dev.osvj.sched.dispatch.VcpuExecutorConfigurator}), with a boot-CPU thread before the vCPUs
 * are up and after they stopped.
 */
package dev.osvj.sched.dispatch;
