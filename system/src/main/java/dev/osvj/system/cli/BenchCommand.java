package dev.osvj.system.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine;

import java.lang.reflect.InvocationTargetException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code osvj bench SUITE [--quick] [--json FILE]}: the benchmark contract of BENCH.md. The suites live
 * in the bench module (with JMH and the baselines); {@code bin/osvj} puts it on the class path and this
 * command hands over to {@code dev.osvj.bench.BenchMain}.
 */
@Command(name = "bench", description = "Run a benchmark suite: SUITE [--quick] [--json FILE] (see BENCHMARKS.md).",
    mixinStandardHelpOptions = false)
final class BenchCommand implements Callable<Integer> {
    /** Everything after {@code bench}, passed on as it is. */
    @CommandLine.Unmatched
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        final Class<?> main;
        try {
            main = Class.forName("dev.osvj.bench.BenchMain");
        } catch (final ClassNotFoundException e) {
            System.err.println("osvj bench: the bench module is not on the class path; run it as bin/osvj bench");
            return Main.EXIT_FAILURE;
        }
        try {
            final Object status = main.getMethod("execute", String[].class).invoke(null, (Object)args.toArray(String[]::new));
            return (Integer)status;
        } catch (final InvocationTargetException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        }
    }
}
