package dev.osvj.bench;

import dev.osvj.virtio.net.TapTransport;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Linux network namespace the benchmark creates for a kernel on the {@code tap} backend, so Linux's
 * own TCP/IP stack is the kernel's peer without touching the host's interfaces: {@code ip netns add
 * osvjb<pid>x<n>} on creation, {@code ip netns del} on {@link #close()} and, should the JVM exit
 * first, from a shutdown hook; namespaces left by a benchmark process that was killed are deleted the
 * next time one is created. Needs root and iproute2 ({@link #unavailable()} says why not).
 *
 * <p>The kernel opens its TAP inside the namespace ({@code osvj.devices[].netns}); {@link #linkUp}
 * gives Linux's end its address; {@link #connect} opens host JDK sockets <em>inside</em> the namespace:
 * a thread enters it with {@code setns(CLONE_NEWNET)} (a namespace is per thread in Linux), creates and
 * connects the socket there, and the socket then works from any thread.
 */
public final class NetNamespace implements AutoCloseable {
    private static final String PREFIX = "osvjb";
    /** A namespace this class made: the prefix, the creating process's pid, {@code x}, a counter. */
    private static final Pattern OURS = Pattern.compile(PREFIX + "(\\d+)x\\d+");
    private static final AtomicInteger COUNT = new AtomicInteger();
    private final String name;
    private final Thread cleanup;
    private boolean closed;

    private NetNamespace(final String name) {
        this.name = name;
        this.cleanup = new Thread(this::delete, "netns-cleanup-" + name);
    }

    /** Why a namespace cannot be made here, or null when it can (root, {@code ip} on PATH). */
    public static String unavailable() {
        if (Tools.find("ip").isEmpty()) {
            return "ip (iproute2) is not installed";
        }
        if (!"root".equals(System.getProperty("user.name"))) {
            return "network namespaces and TAP devices need root (running as " + System.getProperty("user.name") + ")";
        }
        return null;
    }

    /** Create a fresh namespace. */
    public static NetNamespace create() throws IOException, InterruptedException {
        final String why = unavailable();
        if (why != null) {
            throw new IOException(why);
        }
        deleteStale();
        final NetNamespace ns = new NetNamespace(PREFIX + ProcessHandle.current().pid() + "x" + COUNT.incrementAndGet());
        run("ip", "netns", "add", ns.name);
        Runtime.getRuntime().addShutdownHook(ns.cleanup);
        try {
            run("ip", "-n", ns.name, "link", "set", "lo", "up");
        } catch (final IOException e) {
            ns.close();
            throw e;
        }
        return ns;
    }

    /** Delete the namespaces of benchmark processes that are gone (killed before their cleanup ran). */
    private static void deleteStale() throws IOException, InterruptedException {
        for (final String line : run("ip", "netns", "list").split("\n")) {
            final Matcher m = OURS.matcher(line);
            if (m.lookingAt() && ProcessHandle.of(Long.parseLong(m.group(1))).map(p -> !p.isAlive()).orElse(true)) {
                try {
                    run("ip", "netns", "del", m.group());
                } catch (final IOException e) {
                    // another benchmark deleted it first
                }
            }
        }
    }

    /** The namespace's name ({@code ip netns} and {@code osvj.devices[].netns}). */
    public String name() {
        return name;
    }

    /**
     * Give interface {@code ifname} (the kernel's TAP, seen from Linux) the address {@code cidr} and an
     * MTU of {@code mtu} bytes, and bring it up.
     */
    public void linkUp(final String ifname, final String cidr, final int mtu) throws IOException, InterruptedException {
        run("ip", "-n", name, "addr", "add", cidr, "dev", ifname);
        run("ip", "-n", name, "link", "set", ifname, "mtu", Integer.toString(mtu), "up");
    }

    /** A JDK TCP socket created inside the namespace and connected to {@code to} (TCP_NODELAY on). */
    public Socket connect(final InetSocketAddress to, final int timeoutMs) throws IOException {
        return TapTransport.inNamespace("/var/run/netns/" + name, () -> {
            final Socket s = new Socket();
            try {
                s.setTcpNoDelay(true);
                s.connect(to, timeoutMs);
                return s;
            } catch (final IOException e) {
                s.close();
                throw e;
            }
        });
    }

    /** Delete the namespace (and with it the TAP's Linux end). Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        delete();
        try {
            Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (final IllegalStateException e) {
            // the JVM is shutting down: the hook runs (or ran) delete, which is idempotent for ip
        }
    }

    private void delete() {
        try {
            run("ip", "netns", "del", name);
        } catch (final IOException | InterruptedException e) {
            System.err.println("osvj bench: could not delete network namespace " + name + ": " + e.getMessage());
        }
    }

    /** Run a command to completion (30 s at most); IOException with its output unless it exits 0. */
    static String run(final String... command) throws IOException, InterruptedException {
        final List<String> cmd = new ArrayList<>(List.of(command));
        final Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", command) + ": hung");
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + ": exit " + p.exitValue() + ": " + out.strip());
        }
        return out;
    }
}
