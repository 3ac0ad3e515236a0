package dev.osvj.net.ip;

import java.util.ArrayList;
import java.util.List;

/**
 * IPv4 routes with longest-prefix match. The route array is copy-on-write: lookups read a volatile
 * array and allocate nothing; changes (configuration, DHCP) are rare and synchronized.
 */
public final class RouteTable {
    /**
     * One route.
     *
     * @param destination network address (already masked).
     * @param netmask     contiguous mask.
     * @param gateway     next hop, or 0 for a directly connected network.
     * @param ifIndex     the interface's index in the stack.
     */
    public record Route(int destination, int netmask, int gateway, int ifIndex) {
        public boolean matches(final int ip) {
            return (ip & netmask) == destination;
        }
    }

    private volatile Route[] routes = new Route[0];

    public synchronized void add(final Route route) {
        final List<Route> list = new ArrayList<>(List.of(routes));
        list.removeIf(r -> r.destination() == route.destination() && r.netmask() == route.netmask()
            && r.ifIndex() == route.ifIndex());
        list.add(new Route(route.destination() & route.netmask(), route.netmask(), route.gateway(), route.ifIndex()));
        // longest prefix first, so the first match wins
        list.sort((a, b) -> Integer.compare(Integer.bitCount(b.netmask()), Integer.bitCount(a.netmask())));
        routes = list.toArray(new Route[0]);
    }

    public synchronized void removeInterface(final int ifIndex) {
        final List<Route> list = new ArrayList<>(List.of(routes));
        list.removeIf(r -> r.ifIndex() == ifIndex);
        routes = list.toArray(new Route[0]);
    }

    /** The best route to {@code ip}, or null when none matches. */
    public Route lookup(final int ip) {
        for (final Route r : routes) {
            if (r.matches(ip)) {
                return r;
            }
        }
        return null;
    }

    public List<Route> routes() {
        return List.of(routes);
    }
}
