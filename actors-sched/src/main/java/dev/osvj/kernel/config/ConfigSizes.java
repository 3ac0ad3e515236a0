package dev.osvj.kernel.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.util.HashMap;
import java.util.Map;

/**
 * Reads HOCON sizes ({@code 16M}, {@code 64 KiB}, {@code 4096}) as {@link Config#getBytes} does, without
 * its exceptions. Typesafe Config's {@code getBytes} first reads the value as a number and, for a size
 * written with a unit (a string), catches the failure and parses the string: three exceptions per call
 * (two {@code NumberFormatException}s and a {@code ConfigException.WrongType}), each filling in a stack
 * trace. A kernel reads about a dozen sizes per boot on its supervisors' deep Pekko stacks, so that was
 * a measurable share of a warm boot.
 *
 * <p>This parses the common form itself: a whole number, optional spaces, and one of HOCON's size
 * units (HOCON.md, "Size in bytes format": {@code B}, {@code K}/{@code KiB}/{@code kibibytes} and the
 * other powers of two, {@code kB}/{@code kilobytes} and the other powers of ten, up to exa). Anything
 * else (a fraction, a malformed size, an overflow) goes to {@code getBytes} itself, so results and
 * error messages are the library's.
 */
public final class ConfigSizes {
    /** Unit text to multiplier, as HOCON spells them (case-sensitive: {@code kB} is 1000, {@code K} 1024). */
    private static final Map<String, Long> UNITS = new HashMap<>();

    static {
        for (final String u : new String[] {"", "B", "b", "byte", "bytes"}) {
            UNITS.put(u, 1L);
        }
        final String[][] names = {
            {"K", "k", "Ki", "KiB", "kibibyte", "kibibytes", "kB", "kilobyte", "kilobytes"},
            {"M", "m", "Mi", "MiB", "mebibyte", "mebibytes", "MB", "megabyte", "megabytes"},
            {"G", "g", "Gi", "GiB", "gibibyte", "gibibytes", "GB", "gigabyte", "gigabytes"},
            {"T", "t", "Ti", "TiB", "tebibyte", "tebibytes", "TB", "terabyte", "terabytes"},
            {"P", "p", "Pi", "PiB", "pebibyte", "pebibytes", "PB", "petabyte", "petabytes"},
            {"E", "e", "Ei", "EiB", "exbibyte", "exbibytes", "EB", "exabyte", "exabytes"},
        };
        long two = 1;
        long ten = 1;
        for (final String[] power : names) {
            two *= 1024;
            ten *= 1000;
            for (int i = 0; i < power.length; i++) {
                UNITS.put(power[i], i < 6 ? two : ten);
            }
        }
    }

    private ConfigSizes() {
    }

    /**
     * The size at {@code path} in bytes, exactly as {@code config.getBytes(path)}, with its exceptions
     * ({@code Missing}, {@code BadValue}, {@code WrongType}) for an absent, malformed or non-size value.
     */
    public static long bytes(final Config config, final String path) {
        final ConfigValue v = config.getValue(path);
        if (v.valueType() == ConfigValueType.STRING) {
            final long n = parse((String)v.unwrapped());
            if (n >= 0) {
                return n;
            }
        }
        return config.getBytes(path);
    }

    /** A whole number with an optional known unit, in bytes; -1 for anything else (or an overflow). */
    static long parse(final String text) {
        final String s = text.strip();
        int i = 0;
        while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
            i++;
        }
        if (i == 0 || i > 18) {
            return -1; // no digits, a sign, or more than a long surely holds: the library decides
        }
        final Long unit = UNITS.get(s.substring(i).stripLeading());
        if (unit == null) {
            return -1;
        }
        try {
            return Math.multiplyExact(Long.parseLong(s, 0, i, 10), unit);
        } catch (final ArithmeticException overflow) {
            return -1;
        }
    }
}
