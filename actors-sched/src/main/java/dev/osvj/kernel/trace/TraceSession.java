package dev.osvj.kernel.trace;

import jdk.jfr.Event;
import jdk.jfr.Recording;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A JFR recording of the tracepoints a pattern selected, written to a file when the kernel stops
 * ({@code jfr print --events osvj.boot.Phase FILE} reads it).
 */
public final class TraceSession implements AutoCloseable {
    private final Recording recording;
    private final Path file;
    private final List<Class<? extends Event>> enabled;

    private TraceSession(final Recording recording, final Path file, final List<Class<? extends Event>> enabled) {
        this.recording = recording;
        this.file = file;
        this.enabled = enabled;
    }

    /** Start recording the selected tracepoints; returns null when the selection is empty. */
    public static TraceSession start(final String kernelName, final List<Class<? extends Event>> selected, final Path file) {
        if (selected.isEmpty()) {
            return null;
        }
        final Recording recording = new Recording();
        recording.setName("osvj-" + kernelName);
        recording.setToDisk(true);
        for (final Class<? extends Event> type : selected) {
            recording.enable(type).withoutThreshold().withStackTrace();
        }
        recording.start();
        return new TraceSession(recording, file, selected);
    }

    public Path file() {
        return file;
    }

    public List<Class<? extends Event>> enabled() {
        return enabled;
    }

    /** Stop and write the recording to {@link #file()}. */
    @Override
    public void close() throws IOException {
        recording.stop();
        try {
            final Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                java.nio.file.Files.createDirectories(parent);
            }
            recording.dump(file);
        } finally {
            recording.close();
        }
    }
}
