package dev.osvj.system.app.memcached;

import java.util.List;
import java.util.Locale;

/**
 * The server's settings, parsed from {@code osvj.app.args} with memcached's option names:
 *
 * <pre>
 *   -p, --port=NUM            TCP port (default 11211)
 *   -l, --listen=ADDR         IPv4 address to listen on (default 0.0.0.0, every interface)
 *   -m, --memory-limit=MB     item memory in megabytes (default 64)
 *   -c, --conn-limit=NUM      simultaneous connections (default 1024)
 *   -t, --threads=NUM         worker threads (default: one per vCPU)
 *   -I, --max-item-size=SIZE  largest item and slab page size, 1k..128m with k/m suffix (default 1m)
 *   -f, --slab-growth-factor=F  chunk size factor between slab classes (default 1.25)
 *   -n, --slab-min-size=BYTES   key + value + flags of the smallest chunk (default 48)
 *   -C, --disable-cas         no CAS uniques (gets reports 0)
 *   -U, --udp-port=NUM        UDP port: only 0 (off, memcached 1.6's default) is supported
 *   -v, -vv                   verbosity
 * </pre>
 *
 * @param memoryLimit bytes.
 * @param itemSizeMax bytes.
 */
public record MemcachedOptions(int port, int listenIp, long memoryLimit, int maxConnections, int threads,
    int itemSizeMax, double growthFactor, int minChunkData, boolean useCas, int verbosity) {

    /** Default thread count when {@code -t} is absent: the vCPUs. */
    public static MemcachedOptions parse(final List<String> args, final int defaultThreads) {
        int port = 11211;
        int listenIp = 0;
        long memoryMb = 64;
        int conns = 1024;
        int threads = defaultThreads;
        int itemMax = 1 << 20;
        double factor = 1.25;
        int minData = 48;
        boolean cas = true;
        int verbosity = 0;
        for (int i = 0; i < args.size(); i++) {
            String opt = args.get(i);
            String value = null;
            if (opt.startsWith("--") && opt.contains("=")) {
                value = opt.substring(opt.indexOf('=') + 1);
                opt = opt.substring(0, opt.indexOf('='));
            } else if (opt.length() > 2 && opt.startsWith("-") && !opt.startsWith("--") && !opt.matches("-v+")) {
                value = opt.substring(2);
                opt = opt.substring(0, 2);
            }
            switch (opt) {
                case "-C", "--disable-cas" -> cas = false;
                case "-v", "--verbose" -> verbosity = Math.max(verbosity, 1);
                case "-vv" -> verbosity = 2;
                case "-vvv" -> verbosity = 3;
                default -> {
                    if (value == null) {
                        if (i + 1 >= args.size()) {
                            throw new IllegalArgumentException("memcached: option " + opt + " needs a value");
                        }
                        value = args.get(++i);
                    }
                    switch (opt) {
                        case "-p", "--port" -> port = integer(opt, value, 1, 65535);
                        case "-l", "--listen" -> listenIp = ipv4(value);
                        case "-m", "--memory-limit" -> memoryMb = integer(opt, value, 1, 1 << 20);
                        case "-c", "--conn-limit" -> conns = integer(opt, value, 1, 1 << 20);
                        case "-t", "--threads" -> threads = integer(opt, value, 1, 256);
                        case "-I", "--max-item-size" -> itemMax = (int)size(opt, value);
                        case "-f", "--slab-growth-factor" -> factor = factor(value);
                        case "-n", "--slab-min-size" -> minData = integer(opt, value, 1, 1 << 16);
                        case "-U", "--udp-port" -> integer(opt, value, 0, 0);
                        default -> throw new IllegalArgumentException("memcached: unknown option " + opt
                            + " (supported: -p -l -m -c -t -I -f -n -C -U 0 -v)");
                    }
                }
            }
        }
        if (Item.HEADER + minData > itemMax / 2) {
            throw new IllegalArgumentException("memcached: -n " + minData + " too large for -I " + itemMax);
        }
        return new MemcachedOptions(port, listenIp, memoryMb << 20, conns, Math.max(1, threads), itemMax, factor,
            minData, cas, verbosity);
    }

    private static int integer(final String opt, final String value, final int min, final int max) {
        final int v;
        try {
            v = Integer.parseInt(value);
        } catch (final NumberFormatException e) {
            throw new IllegalArgumentException("memcached: " + opt + " wants a number, got \"" + value + "\"");
        }
        if (v < min || v > max) {
            throw new IllegalArgumentException("memcached: " + opt + " must be in " + min + ".." + max + ", got " + v);
        }
        return v;
    }

    private static long size(final String opt, final String value) {
        final String v = value.toLowerCase(Locale.ROOT);
        long mult = 1;
        String digits = v;
        if (v.endsWith("k")) {
            mult = 1024;
            digits = v.substring(0, v.length() - 1);
        } else if (v.endsWith("m")) {
            mult = 1024 * 1024;
            digits = v.substring(0, v.length() - 1);
        }
        final long n;
        try {
            n = Long.parseLong(digits) * mult;
        } catch (final NumberFormatException e) {
            throw new IllegalArgumentException("memcached: " + opt + " wants a size like 1m, got \"" + value + "\"");
        }
        if (n < 1024 || n > 128L << 20) {
            throw new IllegalArgumentException("memcached: " + opt + " must be in 1k..128m, got " + value);
        }
        return n;
    }

    private static double factor(final String value) {
        final double f;
        try {
            f = Double.parseDouble(value);
        } catch (final NumberFormatException e) {
            throw new IllegalArgumentException("memcached: -f wants a factor like 1.25, got \"" + value + "\"");
        }
        if (!(f > 1.0 && f <= 16)) {
            throw new IllegalArgumentException("memcached: -f must be above 1.0, got " + value);
        }
        return f;
    }

    private static int ipv4(final String value) {
        final String[] parts = value.split("\\.", -1);
        if (parts.length != 4) {
            throw new IllegalArgumentException("memcached: -l wants an IPv4 address, got \"" + value + "\"");
        }
        int ip = 0;
        for (final String p : parts) {
            final int b;
            try {
                b = Integer.parseInt(p);
            } catch (final NumberFormatException e) {
                throw new IllegalArgumentException("memcached: -l wants an IPv4 address, got \"" + value + "\"");
            }
            if (b < 0 || b > 255) {
                throw new IllegalArgumentException("memcached: -l wants an IPv4 address, got \"" + value + "\"");
            }
            ip = ip << 8 | b;
        }
        return ip;
    }
}
