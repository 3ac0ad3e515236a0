package dev.osvj.system.cli;

import java.util.concurrent.Callable;

/**
 * A subcommand another module adds to {@code osvj} (the fleet module's {@code deploy}, {@code fleet},
 * {@code node}): a picocli {@code @Command} class with a public no-argument constructor, listed in that
 * module's {@code META-INF/services/dev.osvj.system.cli.ContributedCommand}. {@link Main} adds every one
 * found on the class path; {@code call()} returns the exit code (0 ok, 1 failure, 2 usage or
 * configuration error).
 */
public interface ContributedCommand extends Callable<Integer> {
}
