package dev.osvj.fleet;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.List;

/**
 * An instance's console: keeps the last {@code capacity} lines (older ones are dropped), so a fleet of
 * many instances holds a bounded amount of console text. Thread-safe (the kernel prints from its actors).
 */
final class ConsoleTail extends OutputStream {
    private final int capacity;
    private final ArrayDeque<String> lines = new ArrayDeque<>();
    private final StringBuilder current = new StringBuilder();
    private final byte[] pending = new byte[4096];
    private int pendingLength;

    ConsoleTail(final int capacity) {
        this.capacity = capacity;
    }

    @Override
    public synchronized void write(final int b) {
        if (b == '\n') {
            flushLine();
        } else if (pendingLength < pending.length) {
            pending[pendingLength++] = (byte)b;
        }
    }

    private void flushLine() {
        current.append(new String(pending, 0, pendingLength, StandardCharsets.UTF_8));
        pendingLength = 0;
        if (lines.size() == capacity) {
            lines.removeFirst();
        }
        lines.addLast(current.toString());
        current.setLength(0);
    }

    /** The kept lines, oldest first. */
    synchronized List<String> lines() {
        return List.copyOf(lines);
    }
}
