package dev.osvj.vswitch;

import com.typesafe.config.Config;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.testing.StandaloneKernel;
import dev.osvj.sched.SchedConfig;
import dev.osvj.sched.Scheduler;
import dev.osvj.virtio.VirtioSubsystem;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code osvj.vswitch.vcpu-park}: an instance with a vswitch device installs the directed yield (the default,
 * {@code osvj.vswitch.directed-yield}) or {@link ParkHaltWait}, its idle
 * vCPU parks its carrier in it (the scheduler counts a halt wait), and a wakeup from outside the kernel
 * (here a host thread starting a kernel thread: a foreign wakeup, the path a frame from another kernel
 * takes) unparks it every time; the key off, nothing is installed. The protocol of {@link ParkHaltWait}
 * on its own: a wakeup before the wait makes it return at once, a second waiter declines.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class VcpuParkTest {
    private static final ActorTestKit KIT = ActorTestKit.create();
    private static final long DEADLINE_NS = TimeUnit.SECONDS.toNanos(30);

    @AfterAll
    static void stop() {
        KIT.shutdownTestKit();
    }

    private static void await(final String what, final BooleanSupplier condition) {
        final long deadline = System.nanoTime() + DEADLINE_NS;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            LockSupport.parkNanos(100_000);
        }
    }

    /** A one-vCPU scheduler and an instance with a vswitch device on {@code sw}, vcpu-park as given. */
    private static void withKernel(final String name, final boolean park, final java.util.function.Consumer<Scheduler> body)
        throws Exception {
        withKernel(name, park, "switch", body);
    }

    /** As above, with {@code osvj.vswitch.directed-yield} as given. */
    private static void withKernel(final String name, final boolean park, final String yield,
                                   final java.util.function.Consumer<Scheduler> body) throws Exception {
        try (SwitchHost host = SwitchHost.start()) {
            host.startSwitch(SwitchSpec.of(name));
            final Scheduler sched = Scheduler.create(name, SchedConfig.defaults(1), KernelClock.SYSTEM, null);
            sched.start((b, n, p) -> KIT.spawn(b, name + "-" + n, p));
            final Config config = StandaloneKernel.config("""
                osvj.devices = [{type = net, backend = vswitch, switch = "%s"}]
                osvj.vswitch.vcpu-park = %s
                osvj.vswitch.directed-yield = %s
                """.formatted(name, park, yield));
            final StandaloneKernel kernel = new StandaloneKernel(name, config);
            kernel.services().provide(Scheduler.class, sched);
            final VirtioSubsystem virtio = new VirtioSubsystem();
            kernel.bootOnActor(KIT, virtio);
            final VSwitchSubsystem vswitch = new VSwitchSubsystem();
            kernel.boot(vswitch);
            try {
                assertEquals(park, kernel.notes().stream().anyMatch(n -> n.contains("vcpu-park")), kernel.notes().toString());
                assertEquals(park && !"off".equals(yield), kernel.notes().stream().anyMatch(
                    n -> n.contains("directed-yield = " + yield)), kernel.notes().toString());
                body.accept(sched);
            } finally {
                vswitch.stop(kernel);
                virtio.stop(kernel);
                assertTrue(sched.stop(Duration.ofSeconds(30)), "the scheduler stops (its vCPU halts as usual again)");
            }
        }
    }

    @Test
    void shouldParkTheIdleVcpuAndUnparkItForEveryWakeupFromOutside() throws Exception {
        withKernel("park-on", true, sched -> {
            for (int i = 0; i < 200; i++) {
                final long waits = sched.haltWaits();
                await("the idle vCPU parks (halt waits past " + waits + ")", () -> sched.haltWaits() > waits);
                final CountDownLatch ran = new CountDownLatch(1);
                sched.spawn("woken-" + i, ran::countDown); // a foreign wakeup of the parked vCPU
                try {
                    assertTrue(ran.await(30, TimeUnit.SECONDS), "round " + i + ": the parked vCPU was woken and ran the thread");
                } catch (final InterruptedException e) {
                    throw new AssertionError(e);
                }
            }
            // with directed yield (the default) a host thread's wakeup is never deferred: it unparks the carrier
            // (when the vCPU is parked; the test's rounds also catch it back from a timed-out wait)
            assertTrue(sched.directedYields().carrierWakeups() > 0, sched.directedYields().toString());
            assertEquals(0, sched.directedYields().deferredWakeups(), sched.directedYields().toString());
        });
    }

    @Test
    void shouldParkInVcpuParksOwnWaitWithoutDirectedYield() throws Exception {
        withKernel("park-no-yield", true, "off", sched -> {
            for (int i = 0; i < 50; i++) {
                final long waits = sched.haltWaits();
                await("the idle vCPU parks (halt waits past " + waits + ")", () -> sched.haltWaits() > waits);
                final CountDownLatch ran = new CountDownLatch(1);
                sched.spawn("woken-" + i, ran::countDown);
                try {
                    assertTrue(ran.await(30, TimeUnit.SECONDS), "round " + i + ": the parked vCPU was woken and ran the thread");
                } catch (final InterruptedException e) {
                    throw new AssertionError(e);
                }
            }
            assertEquals(0, sched.directedYields().carrierWakeups(), "no directed yield installed");
        });
    }

    @Test
    void shouldLeaveTheHaltPathAloneWhenOff() throws Exception {
        withKernel("park-off", false, sched -> {
            final CountDownLatch ran = new CountDownLatch(1);
            sched.spawn("plain", ran::countDown);
            try {
                assertTrue(ran.await(30, TimeUnit.SECONDS));
            } catch (final InterruptedException e) {
                throw new AssertionError(e);
            }
            assertEquals(0, sched.haltWaits(), "no halt wait installed");
        });
    }

    @Test
    void shouldReturnAtOnceAfterAWakeupAndLetOneWaiterAtATime() throws Exception {
        final ParkHaltWait w = new ParkHaltWait();
        w.wakeup(); // before anyone waits: the next wait returns at once
        assertTrue(w.await(TimeUnit.HOURS.toNanos(1), () -> false));
        final CountDownLatch inside = new CountDownLatch(1);
        final boolean[] second = new boolean[1];
        final Thread first = Thread.ofPlatform().start(() -> w.await(TimeUnit.HOURS.toNanos(1), () -> {
            inside.countDown(); // claimed the source, about to park
            return false;
        }));
        assertTrue(inside.await(30, TimeUnit.SECONDS));
        second[0] = w.await(TimeUnit.HOURS.toNanos(1), () -> true);
        assertFalse(second[0], "a second waiter declines while the first holds the source");
        w.wakeup();
        first.join(TimeUnit.SECONDS.toMillis(30));
        assertFalse(first.isAlive(), "the wakeup unparked the waiter");
    }
}
