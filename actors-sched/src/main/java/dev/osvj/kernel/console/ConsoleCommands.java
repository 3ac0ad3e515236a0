package dev.osvj.kernel.console;

import java.util.Collection;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/** The registry of console commands; one per kernel instance. Thread-safe. */
public final class ConsoleCommands {
    private final Map<String, ConsoleCommand> commands = new TreeMap<>();

    /** Register a command; a second command with the same name is a kernel bug. */
    public synchronized void register(final ConsoleCommand command) {
        final ConsoleCommand existing = commands.putIfAbsent(command.name(), command);
        if (existing != null) {
            throw new IllegalStateException("console command registered twice: " + command.name());
        }
    }

    public synchronized ConsoleCommand find(final String name) {
        return commands.get(name);
    }

    /** All commands, sorted by name. */
    public synchronized Collection<ConsoleCommand> all() {
        return Collections.unmodifiableCollection(new TreeMap<>(commands).values());
    }
}
