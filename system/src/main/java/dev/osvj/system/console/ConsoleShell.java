package dev.osvj.system.console;

import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.console.ConsoleCommand;
import dev.osvj.kernel.console.OutputRedirect;
import dev.osvj.kernel.console.Terminal;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The VM console: a shell on the process's stdin/stdout. One platform thread reads lines (blocking
 * host I/O stays off the vCPUs); the shell thread parses each line into words (single and double
 * quotes, backslash escapes) and runs the registered command. An unknown command is one line of error
 * and the shell goes on. At end of input the shell stops reading and the kernel keeps running until
 * {@code poweroff} or a signal.
 */
public final class ConsoleShell implements Terminal {
    /** Unquoted {@code >} and {@code >>} in a command line (compared by identity). */
    static final String REDIRECT = new String(">");
    static final String APPEND = new String(">>");

    /** A parsed command line: the words, and where the output goes ({@code file} null = console). */
    record CommandLine(List<String> words, String file, boolean append) {
    }

    /** End of input marker in the line queue. */
    private static final String EOF = new String("<eof>");

    private final KernelContext kernel;
    private final InputStream in;
    private final PrintStream out;
    private final String prompt;
    private final boolean interactive;
    private final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private volatile boolean running = true;
    private volatile boolean endOfInput;
    private Thread reader;
    private Thread shell;

    private final java.util.function.BooleanSupplier poweringOff;

    /**
     * @param poweringOff true once a poweroff began: the shell then stops prompting.
     */
    public ConsoleShell(final KernelContext kernel, final InputStream in, final PrintStream out, final boolean interactive,
        final java.util.function.BooleanSupplier poweringOff) {
        this.kernel = kernel;
        this.poweringOff = poweringOff;
        this.in = in;
        this.out = out;
        this.prompt = kernel.config().getString("osvj.console.prompt");
        this.interactive = interactive;
    }

    /** Start reading and running commands on two daemon threads. */
    public void start() {
        reader = Thread.ofPlatform().daemon().name(kernel.name() + "-console-reader").start(this::readLines);
        shell = Thread.ofPlatform().daemon().name(kernel.name() + "-console").start(this::runShell);
    }

    /** Stop the shell (at poweroff); the reader thread ends with the process. */
    public void stop() {
        running = false;
        if (shell != null && shell != Thread.currentThread()) {
            shell.interrupt();
        }
    }

    private void readLines() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                lines.add(line);
            }
        } catch (final IOException e) {
            kernel.log().append("WARN", "console", "stdin: " + e.getMessage());
        }
        lines.add(EOF);
    }

    private void runShell() {
        try {
            while (running) {
                out.print(prompt);
                out.flush();
                final String line = lines.take();
                if (line == EOF) {
                    endOfInput = true;
                    out.println();
                    final String note = "end of input; the kernel keeps running until poweroff or a signal";
                    out.println("console: " + note);
                    kernel.log().append("INFO", "console", note);
                    return;
                }
                if (!running) {
                    return;
                }
                execute(line);
                if (poweringOff.getAsBoolean()) {
                    running = false;
                }
            }
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Run one command line; returns its status (127 for an unknown command, 2 for a syntax error). */
    public int execute(final String line) {
        final CommandLine parsed;
        try {
            parsed = parse(line);
        } catch (final IllegalArgumentException e) {
            out.println("sh: " + e.getMessage());
            return 2;
        }
        final List<String> words = parsed.words();
        if (words.isEmpty()) {
            return 0;
        }
        final ConsoleCommand command = kernel.commands().find(words.get(0));
        if (command == null) {
            out.println(words.get(0) + ": command not found (try help)");
            return 127;
        }
        try {
            if (parsed.file() == null) {
                final int status = command.run(words.subList(1, words.size()), this);
                out.flush();
                return status;
            }
            return runRedirected(command, words, parsed);
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
            return 130;
        } catch (final Exception e) {
            out.println(words.get(0) + ": " + e);
            kernel.log().append("ERROR", "console", words.get(0) + " failed: " + e);
            return 1;
        }
    }

    /**
     * A command line: shell words, and an output redirection {@code > FILE} or {@code >> FILE} (one, at
     * any position, as in sh).
     */
    static CommandLine parse(final String line) {
        final List<String> words = new ArrayList<>(split(line));
        String file = null;
        boolean append = false;
        for (int i = 0; i < words.size(); i++) {
            final String w = words.get(i);
            if (w == REDIRECT || w == APPEND) {
                if (file != null) {
                    throw new IllegalArgumentException("more than one output redirection");
                }
                if (i + 1 >= words.size() || words.get(i + 1) == REDIRECT || words.get(i + 1) == APPEND) {
                    throw new IllegalArgumentException("syntax error: no file after " + w);
                }
                append = w == APPEND;
                file = words.get(i + 1);
                words.remove(i + 1);
                words.remove(i);
                i--;
            }
        }
        return new CommandLine(List.copyOf(words), file, append);
    }

    /** Shell words: whitespace separated, '...' literal, "..." with backslash escapes; unquoted > and >> are tokens. */
    static List<String> split(final String line) {
        final List<String> words = new ArrayList<>();
        final StringBuilder word = new StringBuilder();
        boolean inWord = false;
        char quote = 0;
        for (int i = 0; i < line.length(); i++) {
            final char c = line.charAt(i);
            if (quote == '\'') {
                if (c == '\'') {
                    quote = 0;
                } else {
                    word.append(c);
                }
            } else if (quote == '"') {
                if (c == '"') {
                    quote = 0;
                } else if (c == '\\' && i + 1 < line.length()) {
                    word.append(line.charAt(++i));
                } else {
                    word.append(c);
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
                inWord = true;
            } else if (c == '\\' && i + 1 < line.length()) {
                word.append(line.charAt(++i));
                inWord = true;
            } else if (Character.isWhitespace(c)) {
                if (inWord) {
                    words.add(word.toString());
                    word.setLength(0);
                    inWord = false;
                }
            } else if (c == '>') {
                if (inWord) {
                    words.add(word.toString());
                    word.setLength(0);
                    inWord = false;
                }
                if (i + 1 < line.length() && line.charAt(i + 1) == '>') {
                    i++;
                    words.add(APPEND);
                } else {
                    words.add(REDIRECT);
                }
            } else if (c == '#' && !inWord) {
                break; // comment
            } else {
                word.append(c);
                inWord = true;
            }
        }
        if (quote != 0) {
            throw new IllegalArgumentException("unterminated " + (quote == '"' ? "double" : "single") + " quote");
        }
        if (inWord) {
            words.add(word.toString());
        }
        return words;
    }

    private int runRedirected(final ConsoleCommand command, final List<String> words, final CommandLine parsed) throws Exception {
        final OutputRedirect redirect = kernel.services().find(OutputRedirect.class).orElse(null);
        if (redirect == null) {
            out.println("sh: " + parsed.file() + ": output redirection needs a filesystem (no VFS in this kernel)");
            return 1;
        }
        final java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        final PrintStream capture = new PrintStream(captured, true, StandardCharsets.UTF_8);
        final Terminal into = new Terminal() {
            @Override
            public PrintStream out() {
                return capture;
            }

            @Override
            public boolean interactive() {
                return false;
            }

            @Override
            public String pollLine(final long timeoutMs) throws InterruptedException {
                return ConsoleShell.this.pollLine(timeoutMs);
            }
        };
        final int status = command.run(words.subList(1, words.size()), into);
        capture.flush();
        final long written = redirect.write(parsed.file(), captured.toByteArray(), parsed.append());
        if (written < 0) {
            final dev.osvj.kernel.Errno errno = dev.osvj.kernel.Errno.fromResult(written);
            out.println("sh: " + parsed.file() + ": " + (errno == null ? "error " + written : errno.message()));
            return 1;
        }
        return status;
    }

    @Override
    public PrintStream out() {
        return out;
    }

    @Override
    public boolean interactive() {
        return interactive;
    }

    @Override
    public String pollLine(final long timeoutMs) throws InterruptedException {
        if (endOfInput) {
            return null;
        }
        final String line = lines.poll(timeoutMs, TimeUnit.MILLISECONDS);
        if (line == EOF) {
            endOfInput = true;
            lines.add(EOF);
            return null;
        }
        return line;
    }

    public boolean endOfInput() {
        return endOfInput;
    }
}
