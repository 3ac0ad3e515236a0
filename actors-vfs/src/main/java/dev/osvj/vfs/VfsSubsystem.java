package dev.osvj.vfs;

import com.typesafe.config.Config;
import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.Errno;
import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.console.OutputRedirect;
import dev.osvj.kernel.config.ConfigSizes;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.vfs.blk.BlockDevice;
import dev.osvj.vfs.blk.BlockDeviceProvider;
import dev.osvj.vfs.blk.MappedFileBlockDevice;
import dev.osvj.vfs.pseudo.DevFs;
import dev.osvj.vfs.pseudo.ProcFs;
import dev.osvj.vfs.pseudo.SysFs;
import dev.osvj.vfs.ramfs.RamFs;
import dev.osvj.vfs.rofs.RofsFs;
import dev.osvj.vfs.virtiofs.FuseClient;
import dev.osvj.vfs.virtiofs.VirtioFs;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The VFS subsystem ("VFS initialized"): builds the {@link Vfs}, attaches the devices of a published
 * {@link BlockDeviceProvider} (virtio-blk, through the system module's glue) under their names and then
 * the configured disk images as the first free {@code /dev/vblkN}, mounts ramfs at {@code /} and then {@code osvj.mounts} in order (creating mount
 * points), fills /proc and /sys, registers the file console commands, and publishes the services
 * {@link Vfs} (the file system calls), {@link DevFs}, {@link ProcFs} and {@link SysFs} (their provider
 * interfaces). A mount that fails fails the boot with the mount, the errno and its meaning.
 */
public final class VfsSubsystem implements Subsystem {
    private final List<BlockDevice> disks = new ArrayList<>();

    @Override
    public String name() {
        return "vfs";
    }

    @Override
    public int order() {
        return Order.VFS;
    }

    @Override
    public String phase() {
        return "VFS initialized";
    }

    @Override
    public void declareConfig(final ConfigSpec spec) {
        spec.integer("osvj.vfs.max-fds", 3, 1 << 20);
        spec.integer("osvj.vfs.dentry-cache-size", 0, 1 << 24);
        spec.bytes("osvj.vfs.page-cache-size", 4096, 1L << 40);
        spec.string("osvj.vfs.umask", Pattern.compile("0?[0-7]{1,3}"), "an octal mask such as 022");
        spec.integer("osvj.vfs.uid", 0, 65535);
        spec.integer("osvj.vfs.gid", 0, 65535);
        spec.objectList("osvj.vfs.disks", e -> {
            e.string("file");
            e.bool("read-only");
        });
        spec.objectList("osvj.mounts", e -> {
            e.oneOf("type", "ramfs", "rofs", "devfs", "procfs", "sysfs", "virtiofs");
            e.string("source");
            e.string("path", Pattern.compile("/.*"), "an absolute path");
            e.string("options");
        });
    }

    @Override
    public void declareTracepoints(final Tracepoints tracepoints) {
        tracepoints.declare(MountEvent.class);
    }

    @Override
    public void boot(final BootContext context) throws Exception {
        final Config c = context.config();
        final Vfs vfs = new Vfs(c.getInt("osvj.vfs.max-fds"), c.getInt("osvj.vfs.dentry-cache-size"), context.clock());
        vfs.umask(Integer.parseInt(c.getString("osvj.vfs.umask"), 8));
        // File mappings take their frames from guest memory (the mmu boots before the VFS).
        final PhysicalMemory ram = context.services().find(PhysicalMemory.class).orElse(null);
        final PageAllocator pageAllocator = context.services().find(PageAllocator.class).orElse(null);
        if (ram != null && pageAllocator != null) {
            vfs.attachMemory(ram, pageAllocator);
        }
        final DevFs devfs = new DevFs();
        final ProcFs procfs = new ProcFs();
        final SysFs sysfs = new SysFs();
        vfs.registerFileSystem(new RamFs());
        vfs.registerFileSystem(new RofsFs(devfs::blockDevice, ConfigSizes.bytes(c, "osvj.vfs.page-cache-size")));
        vfs.registerFileSystem(devfs);
        vfs.registerFileSystem(procfs);
        vfs.registerFileSystem(sysfs);
        final List<FuseClient> fuseClients = context.services().find(FuseClient.Provider.class)
            .map(FuseClient.Provider::clients).orElse(List.of());
        vfs.registerFileSystem(new VirtioFs(() -> fuseClients));

        final Set<String> names = new HashSet<>();
        for (final BlockDevice dev : context.services().find(BlockDeviceProvider.class)
            .map(BlockDeviceProvider::blockDevices).orElse(List.of())) {
            if (!names.add(dev.name())) {
                throw new IllegalStateException("VFS: two block devices are named " + dev.name());
            }
            devfs.attach(dev);
            context.note("VFS: /dev/" + dev.name() + " is " + dev + " (" + dev.size() / 1024 + " KiB"
                + (dev.readOnly() ? ", read-only" : "") + ")");
        }
        int n = 0;
        for (final Config disk : c.getConfigList("osvj.vfs.disks")) {
            final Path file = Path.of(disk.getString("file"));
            while (names.contains("vblk" + n)) {
                n++;
            }
            names.add("vblk" + n);
            final BlockDevice dev = MappedFileBlockDevice.open("vblk" + n++, file, disk.getBoolean("read-only"));
            disks.add(dev);
            devfs.attach(dev);
            context.note("VFS: /dev/" + dev.name() + " is " + file + " (" + dev.size() / 1024 + " KiB"
                + (dev.readOnly() ? ", read-only" : "") + ")");
        }

        mount(context, vfs, "ramfs", "none", "/", "");
        final VfsCommands commands = new VfsCommands(vfs);
        for (final Config m : c.getConfigList("osvj.mounts")) {
            final String path = m.getString("path");
            if (!"/".equals(path)) {
                final long r = commands.mkdirs(path);
                if (r < 0) {
                    throw new IllegalStateException("VFS: cannot create mount point " + path + ": "
                        + Errno.fromResult(r).describe() + (Errno.fromResult(r) == Errno.EROFS
                        ? " (a read-only root must contain its mount points: add the directory to the image)" : ""));
                }
            }
            mount(context, vfs, m.getString("type"), m.getString("source"), path, m.getString("options"));
        }

        final int cpus = c.hasPath("osvj.cpus") ? c.getInt("osvj.cpus") : Runtime.getRuntime().availableProcessors();
        final long memory = c.hasPath("osvj.memory") ? ConfigSizes.bytes(c, "osvj.memory") : Runtime.getRuntime().maxMemory();
        PseudoDefaults.install(vfs, procfs, sysfs, context.name(), cpus, memory, context.clock(), context.bootStartNanos());
        // The application's user, from here on (boot created the mount points as root).
        vfs.setCredentials(c.getInt("osvj.vfs.uid"), c.getInt("osvj.vfs.gid"));
        commands.registerAll(context.commands());
        context.services().provide(OutputRedirect.class, commands::redirect);

        context.services().provide(Vfs.class, vfs);
        context.services().provide(DevFs.class, devfs);
        context.services().provide(ProcFs.class, procfs);
        context.services().provide(SysFs.class, sysfs);
        context.note("VFS: " + vfs.mounts().size() + " mounts, " + vfs.maxDescriptors() + " descriptors");
    }

    private static void mount(final BootContext context, final Vfs vfs, final String type, final String source,
        final String path, final String options) {
        final MountEvent ev = new MountEvent();
        ev.begin();
        final Map<String, String> opts = VfsCommands.parseOptions(options);
        final int r = vfs.mount(type, source, path, opts);
        ev.type = type;
        ev.source = source;
        ev.path = path;
        ev.result = r < 0 ? Errno.fromResult(r).name() : "ok";
        ev.commit();
        if (r < 0) {
            throw new IllegalStateException("VFS: mounting " + type + " " + source + " at " + path + " failed: "
                + Errno.fromResult(r).describe());
        }
        context.note("VFS: mounted " + type + " at " + path + (options.isEmpty() ? "" : " (" + options + ")"));
    }

    @Override
    public void stop(final KernelContext context) {
        for (final BlockDevice d : disks) {
            d.close();
        }
        disks.clear();
    }
}
