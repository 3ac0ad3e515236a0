/**
 * The osvj kernel API: what applications program against. "System calls are method calls": every
 * call here is a plain Java call on the calling kernel thread into the subsystem's data structures,
 * with no actor message, no copy across a protection boundary and no mode switch.
 *
 * <p>Conventions, as in POSIX and the Linux kernel:
 * <ul>
 *   <li>Raw calls return {@code long}/{@code int}: a value {@code >= 0} on success, {@code -errno} on
 *       an expected failure ({@link dev.osvj.kernel.Errno#fromResult(long)} decodes it). No
 *       exception, no allocation on the success path.</li>
 *   <li>Convenience calls throw {@link dev.osvj.kernel.ErrnoException} carrying the
 *       {@link dev.osvj.kernel.Errno}.</li>
 *   <li>A call into a subsystem that this kernel instance does not have fails with
 *       {@link dev.osvj.kernel.Errno#ENOSYS}.</li>
 * </ul>
 *
 * <p>{@link dev.osvj.api.Syscalls} is the entry point; applications get theirs from
 * {@code Syscalls.of(kernel)} in {@code Application.start}. Files, sockets, memory and threads are
 * the VFS's, the network stack's, the MMU's and the scheduler's own public APIs, reached through it.
 */
package dev.osvj.api;
