package dev.osvj.system.glue;

import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.vfs.virtiofs.FuseClient;
import dev.osvj.virtio.VirtioDevices;
import dev.osvj.virtio.fs.VirtioFsDriver;

import java.util.List;

/**
 * Connects the virtio-fs devices to the VFS ("shared folders bound"), as {@link BlkGlueSubsystem} does
 * for disks: boots after virtio and before the VFS and publishes a {@link FuseClient.Provider} whose
 * sessions are the virtio-fs drivers adapted by {@link VirtioFsAdapter}, so that
 * {@code {type = virtiofs, source = "host0", path = "/host"}} in {@code osvj.mounts} mounts the
 * device whose tag is {@code host0}. With no virtio-fs device nothing is published. No keys.
 */
public final class FsGlueSubsystem implements Subsystem {
    /** After {@link BlkGlueSubsystem}, before {@link Order#VFS}. */
    static final int ORDER = 360;

    @Override
    public String name() {
        return "fsglue";
    }

    @Override
    public int order() {
        return ORDER;
    }

    @Override
    public String phase() {
        return "shared folders bound";
    }

    @Override
    public void declareConfig(final ConfigSpec spec) {
        // no keys: the device keys are actors-virtio's, the mounts actors-vfs's
    }

    @Override
    public void boot(final BootContext context) {
        context.services().find(VirtioDevices.class).ifPresent(devices -> {
            final List<FuseClient> adapted = devices.all().stream()
                .filter(e -> e.driver() instanceof VirtioFsDriver)
                .<FuseClient>map(e -> new VirtioFsAdapter((VirtioFsDriver)e.driver())).toList();
            if (!adapted.isEmpty()) {
                context.services().provide(FuseClient.Provider.class, () -> adapted);
            }
        });
    }

    @Override
    public void stop(final KernelContext context) {
        // the drivers are the virtio subsystem's
    }
}
