package dev.osvj.virtio;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.kernel.config.ConfigSpec;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One element of {@code osvj.devices}, validated: the keys a device of its type may have, with the
 * defaults documented in actors-virtio's reference.conf. Each type has its own element
 * {@link ConfigSpec}; the element is checked against it after the type's defaults are merged in, so
 * a device object names only what differs (a blk device needs just {@code path}).
 */
record DeviceConfig(String type, String name, String backend, Config options) {
    static final Pattern MAC = Pattern.compile("([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}");

    /** Defaults per type (the reference.conf comment lists the same). */
    static Config defaults(final String type) {
        return com.typesafe.config.ConfigFactory.parseMap(switch (type) {
            case "net" -> Map.ofEntries(Map.entry("name", ""), Map.entry("backend", "stream"), Map.entry("address", ""),
                Map.entry("local", ""), Map.entry("remote", ""), Map.entry("ifname", "tap0"), Map.entry("netns", ""), Map.entry("offload", true),
                Map.entry("mac", ""), Map.entry("mtu", 1500), Map.entry("pcap", ""), Map.entry("switch", ""),
                Map.entry("channel", ""), Map.entry("aeron-dir", ""), Map.entry("port-name", ""),
                Map.entry("interrupts", "auto"));
            case "blk" -> Map.of("name", "", "backend", "file", "path", "", "read-only", false, "process", "in-jvm");
            case "fs" -> Map.of("name", "", "backend", "host", "tag", "", "path", "");
            default -> Map.of("name", "", "backend", "random");
        });
    }

    /** The element spec of {@code type} (keys relative to the element). */
    static ConfigSpec spec(final String type) {
        final ConfigSpec s = new ConfigSpec("").oneOf("type", "net", "blk", "rng", "fs").string("name");
        switch (type) {
            case "net" -> s.oneOf("backend", "stream", "dgram", "tap", "user", "vswitch").string("address").string("local")
                .string("remote").string("ifname").string("netns").bool("offload").string("mac").integer("mtu", 68, 65_535).string("pcap")
                .string("switch").string("channel").string("aeron-dir").string("port-name")
                .oneOf("interrupts", "auto", "inline", "actor");
            case "blk" -> s.oneOf("backend", "file").string("path").bool("read-only").oneOf("process", "in-jvm", "child-jvm");
            case "fs" -> s.oneOf("backend", "host").string("tag").string("path");
            default -> s.oneOf("backend", "random");
        }
        return s;
    }

    /** Check every element of the list at {@code path}; problems are reported as {@code path[i].key}. */
    static void check(final Config config, final String path, final String shown, final List<ConfigProblem> out) {
        final ConfigValue v = config.getValue(path);
        if (v.valueType() != ConfigValueType.LIST) {
            out.add(new ConfigProblem(shown, "expected a list of device objects, got " + ConfigSpec.show(v)));
            return;
        }
        final List<? extends ConfigValue> list = config.getList(path);
        for (int i = 0; i < list.size(); i++) {
            final String at = shown + "[" + i + "]";
            if (!(list.get(i) instanceof ConfigObject obj)) {
                out.add(new ConfigProblem(at, "expected a device object {type = net|blk|rng|fs, ...}, got "
                    + ConfigSpec.show(list.get(i))));
                continue;
            }
            final Config element = obj.toConfig();
            if (!element.hasPath("type")) {
                out.add(new ConfigProblem(at + ".type", "missing; expected one of net, blk, rng, fs"));
                continue;
            }
            final String type = element.getValue("type").unwrapped().toString();
            if (!Set.of("net", "blk", "rng", "fs").contains(type)) {
                out.add(new ConfigProblem(at + ".type", "expected one of net, blk, rng, fs, got " + ConfigSpec.show(element.getValue("type"))));
                continue;
            }
            final Config merged = element.withFallback(defaults(type));
            final List<ConfigProblem> shape = spec(type).validate(merged);
            for (final ConfigProblem p : shape) {
                out.add(new ConfigProblem(at + "." + p.path(), p.message()));
            }
            if (!shape.isEmpty()) {
                continue;
            }
            if ("net".equals(type)) {
                final String mac = merged.getString("mac");
                if (!mac.isEmpty() && !MAC.matcher(mac).matches()) {
                    out.add(new ConfigProblem(at + ".mac", "expected a MAC address such as 52:54:00:12:34:56, got \"" + mac + "\""));
                }
                final String backend = merged.getString("backend");
                if ("stream".equals(backend) && merged.getString("address").isEmpty()) {
                    out.add(new ConfigProblem(at + ".address", "needed for backend stream: unix:/path or tcp:host:port"));
                }
                if ("dgram".equals(backend) && (merged.getString("local").isEmpty() || merged.getString("remote").isEmpty())) {
                    out.add(new ConfigProblem(at + ".local", "backend dgram needs local and remote (udp:host:port)"));
                }
                if ("vswitch".equals(backend)) {
                    final String channel = merged.getString("channel");
                    if (merged.getString("switch").isEmpty()) {
                        out.add(new ConfigProblem(at + ".switch", "backend vswitch needs the switch's name (switch = \"fabric0\"): "
                            + "a switch in this JVM, or with channel = \"aeron:udp?endpoint=host:port\" one in another process"));
                    }
                    if (!channel.isEmpty() && !channel.startsWith("aeron:ipc") && !channel.startsWith("aeron:udp")) {
                        out.add(new ConfigProblem(at + ".channel", "expected an Aeron channel aeron:ipc or "
                            + "aeron:udp?endpoint=host:port, got \"" + channel + "\""));
                    }
                    if (channel.startsWith("aeron:ipc") && merged.getString("aeron-dir").isEmpty()) {
                        out.add(new ConfigProblem(at + ".aeron-dir", "channel aeron:ipc to a switch in another process "
                            + "needs that switch's aeron-dir"));
                    }
                }
            } else if ("blk".equals(type) && merged.getString("path").isEmpty()) {
                out.add(new ConfigProblem(at + ".path", "needed: the host image file of the block device"));
            } else if ("fs".equals(type)) {
                final String tag = merged.getString("tag");
                final int tagBytes = tag.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
                if (tagBytes < 1 || tagBytes > 36) {
                    out.add(new ConfigProblem(at + ".tag", "expected the mount tag, 1..36 bytes (tag = \"host0\"), got \""
                        + tag + "\""));
                }
                final String folder = merged.getString("path");
                if (folder.isEmpty()) {
                    out.add(new ConfigProblem(at + ".path", "needed: the host folder the device serves read-only"));
                } else if (!java.nio.file.Files.isDirectory(java.nio.file.Path.of(folder))) {
                    out.add(new ConfigProblem(at + ".path", "not an existing directory: \"" + folder + "\""));
                }
            }
        }
    }

    /** Parse validated elements. */
    static List<DeviceConfig> parse(final Config config) {
        return config.getConfigList("osvj.devices").stream().map(e -> {
            final String type = e.getString("type");
            final Config merged = e.withFallback(defaults(type));
            return new DeviceConfig(type, merged.getString("name"), merged.getString("backend"), merged);
        }).toList();
    }
}
