package dev.osvj.kernel.console;

import java.io.PrintStream;

/** The console a command runs on: its output, and for interactive commands (top) its keystrokes. */
public interface Terminal {
    PrintStream out();

    /** True when stdin and stdout are a terminal (a person is typing). */
    boolean interactive();

    /**
     * Wait up to {@code timeoutMs} for an input line (an interactive command's key press).
     *
     * @return the line, "" for Enter, or null on timeout or end of input.
     */
    String pollLine(long timeoutMs) throws InterruptedException;
}
