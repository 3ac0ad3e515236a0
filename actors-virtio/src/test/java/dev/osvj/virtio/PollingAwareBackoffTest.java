package dev.osvj.virtio;

import dev.osvj.virtio.net.FrameSink;
import dev.osvj.virtio.net.FrameTransport;
import dev.osvj.virtio.net.PluggableTransport;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An idle backend parks up to {@code idle-max-park} while a device must be polled and longer once every device is
 * told about its work; a pluggable slot passes its transport's answers through (and polls while empty).
 */
class PollingAwareBackoffTest {
    /** A transport whose frames are announced (as a vswitch port cut through by a switch in this JVM). */
    private static final class Announced implements FrameTransport {
        volatile boolean pending;

        @Override
        public int send(final MemorySegment buffer, final long offset, final int length) {
            return 0;
        }

        @Override
        public int poll(final FrameSink sink, final int limit) {
            return 0;
        }

        @Override
        public boolean mayHaveFrames() {
            return pending;
        }

        @Override
        public boolean needsPolling() {
            return false;
        }

        @Override
        public String describe() {
            return "announced";
        }

        @Override
        public void close() {
        }
    }

    @Test
    void shouldUseTheLongParkOnlyWhileNoDeviceNeedsPolling() {
        final boolean[] needs = {true};
        final VirtioSubsystem.PollingAwareBackoff idle = new VirtioSubsystem.PollingAwareBackoff(1_000_000L, () -> needs[0]);
        final var polled = idle.current();
        needs[0] = false;
        final var unpolled = idle.current();
        assertTrue(polled != unpolled, "two backoffs");
        needs[0] = true;
        assertSame(polled, idle.current(), "back to idle-max-park as soon as a device needs polling");
        idle.idle(0); // parks at most a microsecond or so at the start of the backoff
        idle.idle(1);
    }

    @Test
    void shouldPassTheAttachedTransportsPollingNeedsThrough() {
        final PluggableTransport slot = new PluggableTransport("slot");
        assertTrue(slot.needsPolling(), "an empty slot is polled (nothing announces its frames)");
        assertTrue(slot.mayHaveFrames());
        final Announced t = new Announced();
        slot.attach(t);
        assertFalse(slot.needsPolling());
        assertFalse(slot.mayHaveFrames(), "nothing announced");
        t.pending = true;
        assertTrue(slot.mayHaveFrames());
    }

    @Test
    void shouldAskEveryDeviceOfTheAgent() {
        final DeviceAgent agent = new DeviceAgent("test-agent");
        assertFalse(agent.needsPolling(), "no device: nothing to poll");
    }
}
