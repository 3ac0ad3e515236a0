package dev.osvj.net.kernel;

import dev.osvj.net.stack.NetInterface;
import dev.osvj.net.stack.NetStack;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.time.Duration;

/** Spawns the actors that drive a stack as children of the net subsystem's supervisor. */
public final class NetActors {
    private NetActors() {
    }

    /** Start the interface, timer, receive-stage and flow-supervisor actors; install the flow waker. */
    public static void start(final ActorContext<?> ctx, final NetStack stack, final Duration tick) {
        final ActorRef<FlowSupervisor.Command> flows = ctx.spawn(
            Behaviors.supervise(FlowSupervisor.create()).onFailure(SupervisorStrategy.restart()), "flows");
        stack.setFlowWaker(FlowSupervisor.waker(flows));
        if (!stack.settings().netChannels()) {
            ctx.spawn(Behaviors.supervise(ReceiveStageActor.create(stack)).onFailure(SupervisorStrategy.restart()),
                "receive-stage");
        }
        for (final NetInterface i : stack.interfaces()) {
            if (i.inlineReceive()) {
                continue; // the device's own receive context (its driver's interrupt actor) runs the receive path
            }
            ctx.spawn(Behaviors.supervise(InterfaceActor.create(stack, i))
                .onFailure(SupervisorStrategy.restart().withLimit(10, Duration.ofMinutes(1))), "if-" + i.name());
        }
        ctx.spawn(Behaviors.supervise(TimerActor.create(stack, tick)).onFailure(SupervisorStrategy.restart()), "timer");
    }

    /**
     * Start the DHCP client of {@code ifc} (an actor named {@code dhcp-IFACE}, restarted on failure).
     * {@code fallbackAddress} 0 means no static fallback; the fallback uses {@code fallbackNetmask} and
     * {@code fallbackGateway} (0 = none).
     */
    public static void startDhcp(final ActorContext<?> ctx, final NetStack stack, final NetInterface ifc,
        final dev.osvj.net.dhcp.DhcpClient.Settings settings, final int fallbackAddress, final int fallbackNetmask,
        final int fallbackGateway, final dev.osvj.kernel.log.KernelLog log) {
        final DhcpActor.Fallback fallback = fallbackAddress == 0 ? null
            : new DhcpActor.Fallback(fallbackAddress, fallbackNetmask, fallbackGateway);
        ctx.spawn(Behaviors.supervise(DhcpActor.create(stack, ifc, settings, fallback, log))
            .onFailure(SupervisorStrategy.restart().withLimit(10, Duration.ofMinutes(1))), "dhcp-" + ifc.name());
    }
}
