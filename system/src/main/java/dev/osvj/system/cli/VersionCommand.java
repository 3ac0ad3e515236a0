package dev.osvj.system.cli;

import dev.osvj.system.BuildInfo;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** {@code osvj version}. */
@Command(name = "version", description = "Print the osvj, Java and Pekko versions.")
final class VersionCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.out.println(BuildInfo.describe());
        return Main.EXIT_OK;
    }

    static final class Provider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {BuildInfo.describe()};
        }
    }
}
