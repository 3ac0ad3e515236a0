package dev.osvj.sched;

import com.typesafe.config.Config;

import java.time.Duration;

/**
 * The scheduler's settings, read from {@code osvj.cpus} and {@code osvj.sched.*} (documented in this
 * module's {@code reference.conf}). Immutable; the {@code with} methods return a copy.
 *
 * @param cpus                    number of vCPUs, 1..64.
 * @param arch                    {@code continuation} or {@code platform} (see
 *                                {@link dev.osvj.sched.arch.ContextSwitch}).
 * @param tickHz                  0 for tickless one-shot preemption deadlines, else 100 or 1000 (a
 *                                periodic tick, only for measuring the tickless claim).
 * @param idleSpin                how long an idle vCPU polls its wakeup queues before it halts; with
 *                                {@code adaptiveIdleSpin}, the longest it may poll.
 * @param adaptiveIdleSpin        adapt each vCPU's poll window to its halts ({@link HaltPoll}, KVM's
 *                                halt polling) instead of always polling {@code idleSpin}.
 * @param blockedCarrierThreshold how long a kernel thread may block its vCPU's carrier in a JDK call
 *                                before it is reported.
 * @param balanceInterval         the load balancer's period (OSv: 100 ms).
 * @param mailboxInterval         how long a busy vCPU runs kernel threads before it lets its actor
 *                                mailbox (balancer ticks, stop requests) in.
 */
public record SchedConfig(int cpus, String arch, int tickHz, Duration idleSpin, boolean adaptiveIdleSpin,
                          Duration blockedCarrierThreshold,
                          Duration balanceInterval, Duration mailboxInterval) {
    public SchedConfig {
        if (cpus < 1 || cpus > SchedSubsystem.MAX_CPUS) {
            throw new IllegalArgumentException("cpus must be 1.." + SchedSubsystem.MAX_CPUS + ": " + cpus);
        }
        if (!"continuation".equals(arch) && !"platform".equals(arch)) {
            throw new IllegalArgumentException("arch must be continuation or platform: " + arch);
        }
        if (tickHz != 0 && tickHz != 100 && tickHz != 1000) {
            throw new IllegalArgumentException("tick must be tickless (0), 100 or 1000: " + tickHz);
        }
    }

    /** The defaults of {@code reference.conf} with {@code cpus} vCPUs. */
    public static SchedConfig defaults(final int cpus) {
        return new SchedConfig(cpus, "continuation", 0, Duration.ofNanos(50_000), false, Duration.ofMillis(500),
            Duration.ofMillis(100), Duration.ofMillis(2));
    }

    /** Read from a validated kernel configuration. */
    public static SchedConfig from(final Config config) {
        final String tick = config.getValue("osvj.sched.tick").unwrapped().toString();
        return new SchedConfig(
            config.getInt("osvj.cpus"),
            config.getString("osvj.sched.arch"),
            "tickless".equals(tick) ? 0 : Integer.parseInt(tick),
            config.getDuration("osvj.sched.idle-spin"),
            "adaptive".equals(config.getString("osvj.sched.idle-spin-mode")),
            config.getDuration("osvj.sched.blocked-carrier-threshold"),
            config.getDuration("osvj.sched.balance-interval"),
            config.getDuration("osvj.sched.mailbox-interval"));
    }

    public SchedConfig withCpus(final int n) {
        return new SchedConfig(n, arch, tickHz, idleSpin, adaptiveIdleSpin, blockedCarrierThreshold, balanceInterval,
            mailboxInterval);
    }

    public SchedConfig withArch(final String a) {
        return new SchedConfig(cpus, a, tickHz, idleSpin, adaptiveIdleSpin, blockedCarrierThreshold, balanceInterval,
            mailboxInterval);
    }

    public SchedConfig withTickHz(final int hz) {
        return new SchedConfig(cpus, arch, hz, idleSpin, adaptiveIdleSpin, blockedCarrierThreshold, balanceInterval,
            mailboxInterval);
    }

    public SchedConfig withIdleSpin(final Duration d) {
        return new SchedConfig(cpus, arch, tickHz, d, adaptiveIdleSpin, blockedCarrierThreshold, balanceInterval,
            mailboxInterval);
    }

    public SchedConfig withAdaptiveIdleSpin(final boolean adaptive) {
        return new SchedConfig(cpus, arch, tickHz, idleSpin, adaptive, blockedCarrierThreshold, balanceInterval,
            mailboxInterval);
    }

    public SchedConfig withBlockedCarrierThreshold(final Duration d) {
        return new SchedConfig(cpus, arch, tickHz, idleSpin, adaptiveIdleSpin, d, balanceInterval, mailboxInterval);
    }

    public SchedConfig withBalanceInterval(final Duration d) {
        return new SchedConfig(cpus, arch, tickHz, idleSpin, adaptiveIdleSpin, blockedCarrierThreshold, d, mailboxInterval);
    }

    public SchedConfig withMailboxInterval(final Duration d) {
        return new SchedConfig(cpus, arch, tickHz, idleSpin, adaptiveIdleSpin, blockedCarrierThreshold, balanceInterval, d);
    }
}
