package dev.osvj.kernel.console;

import java.util.List;

/**
 * A console shell command. Subsystems register theirs through {@link ConsoleCommands} during their
 * boot phase. A command runs on the console's thread, writes to {@link Terminal#out()}, and returns an
 * exit status (0 ok); expected failures are messages plus a non-zero status, never exceptions.
 */
public interface ConsoleCommand {
    /** The word typed at the prompt. */
    String name();

    /** One line for {@code help}: arguments and what the command does. */
    String synopsis();

    /**
     * Run the command.
     *
     * @param args the words after the command name (quotes removed).
     */
    int run(List<String> args, Terminal terminal) throws Exception;
}
