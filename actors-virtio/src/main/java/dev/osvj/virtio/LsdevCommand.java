package dev.osvj.virtio;

import dev.osvj.kernel.console.ConsoleCommand;
import dev.osvj.kernel.console.Terminal;
import dev.osvj.virtio.ring.QueueCounters;
import dev.osvj.virtio.ring.VirtqueueDriver;

import java.io.PrintStream;
import java.util.List;

/**
 * {@code lsdev}: the virtio devices, where their backend runs, their status, negotiated features,
 * and per queue its size and counters (chains, descriptors, kicks and suppressed kicks on the driver
 * side; completions, interrupts and suppressed interrupts on the device side when it is in-process).
 */
final class LsdevCommand implements ConsoleCommand {
    private final VirtioDevices devices;

    LsdevCommand(final VirtioDevices devices) {
        this.devices = devices;
    }

    @Override
    public String name() {
        return "lsdev";
    }

    @Override
    public String synopsis() {
        return "lsdev - list virtio devices: features, queues, notification counters";
    }

    @Override
    public int run(final List<String> args, final Terminal terminal) {
        final PrintStream out = terminal.out();
        if (devices.all().isEmpty()) {
            out.println("no virtio devices (configure osvj.devices)");
            return 0;
        }
        for (final VirtioDevices.Entry e : devices.all()) {
            final VirtioTransport t = e.transport();
            out.printf("%-8s %-11s %s, status %s%n", e.name(), e.type().label(), t.location(),
                DeviceStatus.describe(t.status()));
            out.printf("         features: %s%n", VirtioFeatures.describe(e.driver().features(), e.driver()::featureName));
            out.printf("         %s, interrupts handled %d%n", e.driver().describe(), e.interruptsHandled().get());
            for (final VirtqueueDriver q : e.driver().queues()) {
                final QueueCounters c = q.counters();
                out.printf("         vq%d size %d: chains %d, descriptors %d, indirect %d, kicks %d, kicks suppressed %d, "
                        + "completions %d, full %d%n",
                    q.index(), q.size(), c.get(QueueCounters.CHAINS), c.get(QueueCounters.DESCRIPTORS),
                    c.get(QueueCounters.INDIRECT), c.get(QueueCounters.NOTIFICATIONS), c.get(QueueCounters.SUPPRESSED),
                    c.get(QueueCounters.COMPLETIONS), c.get(QueueCounters.FULL));
                if (t instanceof VirtioDevice d) {
                    final QueueCounters dc = d.queueCounters(q.index());
                    if (dc != null) {
                        out.printf("             device: interrupts %d, interrupts suppressed %d, malformed %d%n",
                            dc.get(QueueCounters.NOTIFICATIONS), dc.get(QueueCounters.SUPPRESSED),
                            dc.get(QueueCounters.MALFORMED));
                    }
                }
            }
            if (t instanceof VirtioDevice d && !d.deviceCounters().isEmpty()) {
                out.printf("         device counters: %s, kicks received %d%n", d.deviceCounters(), d.kicksReceived());
            }
        }
        return 0;
    }
}
