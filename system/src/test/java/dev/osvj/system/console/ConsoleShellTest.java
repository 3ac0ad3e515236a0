package dev.osvj.system.console;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ConsoleShellTest {
    @Test
    void shouldSplitWordsOnWhitespace() {
        assertEquals(List.of("echo", "a", "b"), ConsoleShell.split("  echo a\t b  "));
        assertEquals(List.of(), ConsoleShell.split("   "));
    }

    @Test
    void shouldKeepQuotedWordsTogether() {
        assertEquals(List.of("echo", "a b", "c d", "e'f"), ConsoleShell.split("echo 'a b' \"c d\" \"e'f\""));
        assertEquals(List.of("x", "say \"hi\""), ConsoleShell.split("x \"say \\\"hi\\\"\""));
        assertEquals(List.of("a b"), ConsoleShell.split("a\\ b"));
        assertEquals(List.of("ab"), ConsoleShell.split("a''b"));
    }

    @Test
    void shouldDropComments() {
        assertEquals(List.of("echo", "x#y"), ConsoleShell.split("echo x#y # a comment"));
    }

    @Test
    void shouldRejectAnUnterminatedQuote() {
        assertEquals("unterminated single quote",
            assertThrows(IllegalArgumentException.class, () -> ConsoleShell.split("echo 'abc")).getMessage());
    }

    @Test
    void shouldFormatUptimeWithDaysOnlyWhenThereAreAny() {
        assertEquals("0:00:01.500", BuiltinCommands.formatUptime(1_500_000_000L));
        assertEquals("1:01:01.000", BuiltinCommands.formatUptime(3_661_000_000_000L));
        assertEquals("2 days, 0:00:00.000", BuiltinCommands.formatUptime(2 * 86_400_000_000_000L));
    }

    @Test
    void shouldParseOutputRedirections() {
        assertEquals(new ConsoleShell.CommandLine(List.of("echo", "a", "b"), "/tmp/f", false), ConsoleShell.parse("echo a b > /tmp/f"));
        assertEquals(new ConsoleShell.CommandLine(List.of("echo", "a"), "/tmp/f", true), ConsoleShell.parse("echo a>>/tmp/f"));
        assertEquals(new ConsoleShell.CommandLine(List.of("echo", "a>b"), null, false), ConsoleShell.parse("echo 'a>b'"));
        assertEquals(new ConsoleShell.CommandLine(List.of("echo", "x", "y"), "f", false), ConsoleShell.parse("echo x > f y"));
        assertEquals("syntax error: no file after >",
            assertThrows(IllegalArgumentException.class, () -> ConsoleShell.parse("echo a >")).getMessage());
        assertEquals("more than one output redirection",
            assertThrows(IllegalArgumentException.class, () -> ConsoleShell.parse("echo a > b > c")).getMessage());
    }
}
