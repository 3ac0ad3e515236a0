package dev.osvj.net.kernel;

import dev.osvj.kernel.console.ConsoleCommand;
import dev.osvj.kernel.console.Terminal;
import dev.osvj.net.ip.ArpCache;
import dev.osvj.net.ip.RouteTable;
import dev.osvj.net.stack.NetInterface;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.wire.Addresses;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;

/** The network console commands: {@code ifconfig}, {@code route}, {@code arp}, {@code netstat}. */
public final class NetCommands {
    private NetCommands() {
    }

    public static List<ConsoleCommand> all(final NetStack stack) {
        return List.of(new Ifconfig(stack), new Route(stack), new Arp(stack), new Netstat(stack));
    }

    static final class Ifconfig implements ConsoleCommand {
        private final NetStack stack;

        Ifconfig(final NetStack stack) {
            this.stack = stack;
        }

        @Override
        public String name() {
            return "ifconfig";
        }

        @Override
        public String synopsis() {
            return "[IFACE]  show network interfaces: addresses, MTU, packet and byte counters";
        }

        @Override
        public int run(final List<String> args, final Terminal terminal) {
            final PrintStream out = terminal.out();
            int shown = 0;
            for (final NetInterface i : stack.interfaces()) {
                if (!args.isEmpty() && !args.get(0).equals(i.name())) {
                    continue;
                }
                shown++;
                out.printf("%s: flags=<%s%s>  mtu %d%n", i.name(), i.up() ? "UP" : "DOWN",
                    i.loopback() ? ",LOOPBACK" : ",BROADCAST", i.mtu());
                out.printf("        inet %s  netmask %s%s%n", Addresses.ipv4(i.address()), Addresses.ipv4(i.netmask()),
                    i.loopback() || i.address() == 0 ? "" : "  broadcast " + Addresses.ipv4(i.broadcast()));
                if (!i.loopback()) {
                    out.printf("        ether %s%n", Addresses.mac(i.mac()));
                }
                out.printf("        RX packets %d  bytes %d  dropped %d%n", i.rxPackets(), i.rxBytes(), i.rxDropped());
                out.printf("        TX packets %d  bytes %d  dropped %d%n", i.txPackets(), i.txBytes(), i.txDropped());
            }
            if (shown == 0 && !args.isEmpty()) {
                out.println("ifconfig: " + args.get(0) + ": no such interface");
                return 1;
            }
            return 0;
        }
    }

    static final class Route implements ConsoleCommand {
        private final NetStack stack;

        Route(final NetStack stack) {
            this.stack = stack;
        }

        @Override
        public String name() {
            return "route";
        }

        @Override
        public String synopsis() {
            return "show the IPv4 routing table";
        }

        @Override
        public int run(final List<String> args, final Terminal terminal) {
            final PrintStream out = terminal.out();
            out.printf("%-16s %-16s %-16s %s%n", "Destination", "Gateway", "Genmask", "Iface");
            final List<NetInterface> ifs = stack.interfaces();
            for (final RouteTable.Route r : stack.routes()) {
                out.printf("%-16s %-16s %-16s %s%n", r.netmask() == 0 ? "default" : Addresses.ipv4(r.destination()),
                    r.gateway() == 0 ? "*" : Addresses.ipv4(r.gateway()), Addresses.ipv4(r.netmask()),
                    ifs.get(r.ifIndex()).name());
            }
            return 0;
        }
    }

    static final class Arp implements ConsoleCommand {
        private final NetStack stack;

        Arp(final NetStack stack) {
            this.stack = stack;
        }

        @Override
        public String name() {
            return "arp";
        }

        @Override
        public String synopsis() {
            return "show the ARP neighbour cache";
        }

        @Override
        public int run(final List<String> args, final Terminal terminal) {
            final PrintStream out = terminal.out();
            out.printf("%-16s %-18s %s%n", "Address", "HWaddress", "Expires");
            for (final ArpCache.Neighbour n : stack.neighbours()) {
                out.printf("%-16s %-18s %ds%n", Addresses.ipv4(n.ip()), Addresses.mac(n.mac()),
                    n.expiresInNs() / 1_000_000_000L);
            }
            return 0;
        }
    }

    static final class Netstat implements ConsoleCommand {
        private final NetStack stack;

        Netstat(final NetStack stack) {
            this.stack = stack;
        }

        @Override
        public String name() {
            return "netstat";
        }

        @Override
        public String synopsis() {
            return "[-s]  list sockets with states and queues; -s: protocol counters and drops by reason";
        }

        @Override
        public int run(final List<String> args, final Terminal terminal) {
            final PrintStream out = terminal.out();
            if (args.contains("-s")) {
                for (final Map.Entry<String, Long> e : stack.counters().snapshot().entrySet()) {
                    out.printf("%-32s %d%n", e.getKey(), e.getValue());
                }
                return 0;
            }
            out.printf("%-5s %6s %6s %-22s %-22s %s%n", "Proto", "Recv-Q", "Send-Q", "Local Address",
                "Foreign Address", "State");
            for (final Sockets.SocketInfo s : stack.sockets().list()) {
                out.printf("%-5s %6d %6d %-22s %-22s %s%n", s.protocol(), s.recvQueue(), s.sendQueue(),
                    Addresses.ipv4(s.localIp()) + ":" + s.localPort(),
                    s.remotePort() == 0 ? "0.0.0.0:*" : Addresses.ipv4(s.remoteIp()) + ":" + s.remotePort(), s.state());
            }
            return 0;
        }
    }
}
