package dev.osvj.system.app.httpd;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.osvj.kernel.KernelContext;
import dev.osvj.mmu.MemoryStats;
import dev.osvj.net.stack.NetCounters;
import dev.osvj.net.stack.NetInterface;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.ip.RouteTable;
import dev.osvj.net.wire.Addresses;
import dev.osvj.sched.CpuStats;
import dev.osvj.sched.KThread;
import dev.osvj.sched.Scheduler;
import dev.osvj.system.BuildInfo;
import dev.osvj.system.app.AppSubsystem;
import dev.osvj.vfs.Mount;
import dev.osvj.vfs.StatFs;
import dev.osvj.vfs.Vfs;
import jdk.jfr.Event;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The management REST API, modelled on OSv's httpserver-api: JSON (Jackson) for everything except
 * {@code /metrics} (Prometheus text format 0.0.4) and {@code /file/{path}} (the file's bytes).
 * <pre>
 *   GET  /os/name /os/version /os/uptime (s) /os/date (ISO-8601) /os/cmdline /os/dmesg /os/threads
 *   GET  /os/memory/free /os/memory/total (bytes)
 *   POST /os/poweroff                    answers 200, then kernel.powerOff(0)
 *   GET  /file/{path}                    a VFS file (ETag, Range as static files); never outside the VFS
 *   GET  /fs/df /network/ifconfig /network/route /hardware/processor/count /trace/status /metrics
 *   GET  /dashboard                      the HTML dashboard polling the JSON above
 * </pre>
 * A service that is not running in this kernel (no memory subsystem, say) answers 503. With a token,
 * every route but {@code /dashboard} wants {@code Authorization: Bearer TOKEN} (401 otherwise); the
 * comparison is constant-time. Thread-safe: handlers only read kernel state.
 */
final class ManagementApi {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> PREFIXES = Set.of("os", "file", "fs", "network", "hardware", "trace",
        "metrics", "dashboard");

    private final KernelContext kernel;
    private final StaticFiles files;
    private final byte[] token;
    private final byte[] dashboard;

    ManagementApi(final KernelContext kernel, final StaticFiles files, final String token) {
        this.kernel = kernel;
        this.files = files;
        this.token = token == null ? null : ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
        this.dashboard = resource("dashboard.html");
    }

    /** Whether {@code path} belongs to the API (so static files never shadow it). */
    static boolean owns(final String path) {
        final int slash = path.indexOf('/', 1);
        return PREFIXES.contains(slash < 0 ? path.substring(1) : path.substring(1, slash));
    }

    HttpResponse handle(final HttpRequest req) throws HttpException {
        final String p = req.path();
        if (p.equals("/dashboard") || p.equals("/dashboard/")) {
            get(req);
            return new HttpResponse(200).header("Content-Type", "text/html; charset=utf-8")
                .header("Cache-Control", "no-cache").body(dashboard);
        }
        if (token != null) {
            final String auth = req.header("authorization");
            if (auth == null || !java.security.MessageDigest.isEqual(token, auth.getBytes(StandardCharsets.UTF_8))) {
                return HttpResponse.text(401, "unauthorized: this API wants \"Authorization: Bearer <token>\"")
                    .header("WWW-Authenticate", "Bearer realm=\"osvj\"");
            }
        }
        if (p.startsWith("/file/")) {
            return files.serve(req, p.substring(5), false);
        }
        if (p.equals("/os/poweroff")) {
            if (!req.method().equals("POST")) {
                throw new StaticFiles.MethodNotAllowed("POST");
            }
            final HttpResponse r = json(Map.of("poweroff", true));
            r.afterSend = () -> kernel.powerOff(0);
            return r;
        }
        get(req);
        return switch (p) {
            case "/os/name" -> json("osvj");
            case "/os/version" -> json(BuildInfo.version());
            case "/os/uptime" -> json((kernel.clock().monotonicNanos() - kernel.bootStartNanos()) / 1_000_000_000L);
            case "/os/date" -> json(Instant.ofEpochSecond(0, kernel.clock().realtimeNanos()).toString());
            case "/os/cmdline" -> json(kernel.services().find(AppSubsystem.AppLauncher.class)
                .map(AppSubsystem.AppLauncher::cmdline).orElse(""));
            case "/os/dmesg" -> json(String.join("\n", kernel.log().lines()));
            case "/os/threads" -> json(threads());
            case "/os/memory/free" -> json(memory().freeBytes());
            case "/os/memory/total" -> json(memory().totalBytes());
            case "/fs/df" -> json(df());
            case "/network/ifconfig" -> json(ifconfig());
            case "/network/route" -> json(routes());
            case "/hardware/processor/count" -> json(kernel.config().getInt("osvj.cpus"));
            case "/trace/status" -> json(traceStatus());
            case "/metrics" -> new HttpResponse(200).header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                .body(metrics().getBytes(StandardCharsets.UTF_8));
            default -> throw new HttpException(404, "not found: no API endpoint " + p);
        };
    }

    private static void get(final HttpRequest req) throws HttpException {
        if (!req.method().equals("GET") && !req.method().equals("HEAD")) {
            throw new StaticFiles.MethodNotAllowed("GET, HEAD");
        }
    }

    private static HttpResponse json(final Object value) throws HttpException {
        try {
            return new HttpResponse(200).header("Content-Type", HttpResponse.JSON).body(JSON.writeValueAsBytes(value));
        } catch (final JsonProcessingException e) {
            throw new HttpException(500, "cannot encode JSON: " + e.getOriginalMessage());
        }
    }

    private <T> T service(final Class<T> type) throws HttpException {
        return kernel.services().find(type)
            .orElseThrow(() -> new HttpException(503, type.getSimpleName() + " is not running in this kernel"));
    }

    private MemoryStats memory() throws HttpException {
        return service(MemoryStats.class);
    }

    private Map<String, Object> threads() throws HttpException {
        final Scheduler s = service(Scheduler.class);
        final List<Map<String, Object>> list = new ArrayList<>();
        for (final KThread t : s.threads()) {
            final Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", t.id());
            m.put("name", t.name());
            m.put("cpu_id", t.cpuId());
            m.put("status", t.state().name().toLowerCase(Locale.ROOT));
            m.put("cpu_ms", t.cpuTimeNanos() / 1_000_000L);
            m.put("switches", t.switches());
            list.add(m);
        }
        final Map<String, Object> out = new LinkedHashMap<>();
        out.put("time_ms", kernel.clock().realtimeNanos() / 1_000_000L);
        out.put("list", list);
        out.put("cpus", s.cpuStats());
        return out;
    }

    private List<Map<String, Object>> df() throws HttpException {
        final Vfs vfs = service(Vfs.class);
        final List<Map<String, Object>> out = new ArrayList<>();
        for (final Mount m : vfs.mounts()) {
            final StatFs st = new StatFs();
            if (vfs.statfs(m.path(), st) < 0) {
                continue;
            }
            final Map<String, Object> e = new LinkedHashMap<>();
            e.put("filesystem", m.source());
            e.put("mount", m.path());
            e.put("type", m.type());
            e.put("btotal", st.blocks);
            e.put("bfree", st.bfree);
            e.put("ftotal", st.files);
            e.put("ffree", st.ffree);
            e.put("blocksize", st.bsize);
            out.add(e);
        }
        return out;
    }

    private List<Map<String, Object>> ifconfig() throws HttpException {
        final NetStack stack = service(NetStack.class);
        final List<Map<String, Object>> out = new ArrayList<>();
        for (final NetInterface i : stack.interfaces()) {
            final Map<String, Object> e = new LinkedHashMap<>();
            e.put("name", i.name());
            e.put("up", i.up());
            e.put("loopback", i.loopback());
            e.put("address", Addresses.ipv4(i.address()));
            e.put("netmask", Addresses.ipv4(i.netmask()));
            e.put("broadcast", Addresses.ipv4(i.broadcast()));
            e.put("mac", Addresses.mac(i.mac()));
            e.put("mtu", i.mtu());
            e.put("rx_packets", i.rxPackets());
            e.put("rx_bytes", i.rxBytes());
            e.put("rx_dropped", i.rxDropped());
            e.put("tx_packets", i.txPackets());
            e.put("tx_bytes", i.txBytes());
            e.put("tx_dropped", i.txDropped());
            out.add(e);
        }
        return out;
    }

    private List<Map<String, Object>> routes() throws HttpException {
        final NetStack stack = service(NetStack.class);
        final List<NetInterface> ifs = stack.interfaces();
        final List<Map<String, Object>> out = new ArrayList<>();
        for (final RouteTable.Route r : stack.routes()) {
            final Map<String, Object> e = new LinkedHashMap<>();
            e.put("destination", Addresses.ipv4(r.destination()));
            e.put("gateway", Addresses.ipv4(r.gateway()));
            e.put("netmask", Addresses.ipv4(r.netmask()));
            e.put("interface", r.ifIndex() < ifs.size() ? ifs.get(r.ifIndex()).name() : "?");
            out.add(e);
        }
        return out;
    }

    private List<Map<String, Object>> traceStatus() {
        final Set<String> enabled = kernel.tracepoints().select(kernel.config().getString("osvj.trace.enable")).stream()
            .map(c -> dev.osvj.kernel.trace.Tracepoints.nameOf(c.asSubclass(Event.class))).collect(Collectors.toSet());
        final List<Map<String, Object>> out = new ArrayList<>();
        for (final String n : kernel.tracepoints().names()) {
            out.add(Map.of("name", n, "enabled", enabled.contains(n)));
        }
        return out;
    }

    /** Prometheus text exposition: what the kernel's services count, one family per line group. */
    String metrics() {
        final StringBuilder b = new StringBuilder(4096);
        gauge(b, "osvj_uptime_seconds", "time since boot", null,
            (kernel.clock().monotonicNanos() - kernel.bootStartNanos()) / 1e9);
        kernel.services().find(MemoryStats.class).ifPresent(m -> {
            gauge(b, "osvj_memory_total_bytes", "guest RAM", null, m.totalBytes());
            gauge(b, "osvj_memory_free_bytes", "free in the page allocator", null, m.freeBytes());
            gauge(b, "osvj_memory_available_bytes", "free plus what shrinkers give back at once", null, m.availableBytes());
            gauge(b, "osvj_memory_malloc_bytes", "bytes in malloc blocks", null, m.mallocBytes());
        });
        kernel.services().find(NetStack.class).ifPresent(stack -> {
            final NetCounters c = stack.counters();
            b.append("# HELP osvj_net_events_total network stack events by counter\n# TYPE osvj_net_events_total counter\n");
            for (final NetCounters.Counter k : NetCounters.Counter.values()) {
                b.append("osvj_net_events_total{counter=\"").append(k.name().toLowerCase(Locale.ROOT)).append("\"} ")
                    .append(c.get(k)).append('\n');
            }
            family(b, "osvj_net_rx_bytes_total", "bytes received per interface", "counter");
            for (final NetInterface i : stack.interfaces()) {
                b.append("osvj_net_rx_bytes_total{interface=\"").append(i.name()).append("\"} ").append(i.rxBytes()).append('\n');
            }
            family(b, "osvj_net_tx_bytes_total", "bytes sent per interface", "counter");
            for (final NetInterface i : stack.interfaces()) {
                b.append("osvj_net_tx_bytes_total{interface=\"").append(i.name()).append("\"} ").append(i.txBytes()).append('\n');
            }
        });
        kernel.services().find(Scheduler.class).ifPresent(s -> {
            final List<CpuStats> cpus = s.cpuStats();
            family(b, "osvj_cpu_busy_seconds_total", "time charged to threads per vCPU", "counter");
            for (final CpuStats c : cpus) {
                b.append("osvj_cpu_busy_seconds_total{cpu=\"").append(c.cpu()).append("\"} ").append(c.busyNanos() / 1e9).append('\n');
            }
            family(b, "osvj_cpu_context_switches_total", "context switches per vCPU", "counter");
            for (final CpuStats c : cpus) {
                b.append("osvj_cpu_context_switches_total{cpu=\"").append(c.cpu()).append("\"} ").append(c.switches()).append('\n');
            }
            family(b, "osvj_cpu_load", "runnable threads per vCPU", "gauge");
            for (final CpuStats c : cpus) {
                b.append("osvj_cpu_load{cpu=\"").append(c.cpu()).append("\"} ").append(c.load()).append('\n');
            }
            gauge(b, "osvj_threads", "kernel threads", null, s.threads().size());
        });
        return b.toString();
    }

    private static void family(final StringBuilder b, final String name, final String help, final String type) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void gauge(final StringBuilder b, final String name, final String help, final String labels,
        final double value) {
        family(b, name, help, "gauge");
        b.append(name).append(labels == null ? "" : labels).append(' ');
        if (value == Math.rint(value) && Math.abs(value) < 1e15) {
            b.append((long)value);
        } else {
            b.append(value);
        }
        b.append('\n');
    }

    private static byte[] resource(final String name) {
        try (InputStream in = ManagementApi.class.getResourceAsStream(name)) {
            return in == null ? "<!doctype html><p>dashboard missing from the build</p>".getBytes(StandardCharsets.UTF_8)
                : in.readAllBytes();
        } catch (final IOException e) {
            throw new IllegalStateException("httpd: cannot read " + name, e);
        }
    }
}
