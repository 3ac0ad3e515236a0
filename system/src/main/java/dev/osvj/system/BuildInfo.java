package dev.osvj.system;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** Version and JVM flags of this build (from the filtered {@code osvj-build.properties}). */
public final class BuildInfo {
    private static final Properties PROPS = new Properties();

    static {
        try (InputStream in = BuildInfo.class.getResourceAsStream("/osvj-build.properties")) {
            if (in != null) {
                PROPS.load(in);
            }
        } catch (final IOException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private BuildInfo() {
    }

    public static String version() {
        return PROPS.getProperty("version", "unknown");
    }

    /** {@code osvj 0.1.0 (Java 25.0.1, Pekko 1.7.0)}. */
    public static String describe() {
        return "osvj " + version() + " (Java " + Runtime.version() + ", Pekko " + org.apache.pekko.Version.current() + ")";
    }
}
