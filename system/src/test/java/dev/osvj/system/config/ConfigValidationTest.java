package dev.osvj.system.config;

import com.typesafe.config.Config;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigException;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.system.boot.Subsystems;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Malformed configurations, each with the exact message a user sees. */
class ConfigValidationTest {
    @TempDir
    Path dir;

    private final List<Subsystem> subsystems = Subsystems.discover();
    private final Tracepoints tracepoints = tracepoints(subsystems);

    private static Tracepoints tracepoints(final List<Subsystem> subsystems) {
        final Tracepoints t = new Tracepoints();
        subsystems.forEach(s -> s.declareTracepoints(t));
        return t;
    }

    private Config load(final String conf, final String... sets) throws Exception {
        final Path file = dir.resolve("test.conf");
        Files.writeString(file, conf);
        return KernelConfigLoader.load(file, List.of(sets), new Properties(), subsystems, tracepoints);
    }

    private List<String> problems(final String conf, final String... sets) {
        final ConfigException e = assertThrows(ConfigException.class, () -> load(conf, sets));
        return e.problems().stream().map(Object::toString).toList();
    }

    @Test
    void shouldAcceptTheShippedDefaultConfiguration() throws Exception {
        final Path conf = Path.of("..", "conf", "default.conf");
        final Config config = KernelConfigLoader.load(conf, List.of(), new Properties(), subsystems, tracepoints);
        assertEquals("memcached", config.getString("osvj.app.name"));
    }

    @Test
    void shouldAcceptAnEmptyFileBecauseEveryKeyHasADefault() throws Exception {
        assertEquals(2, load("").getInt("osvj.cpus"));
    }

    @Test
    void shouldRejectAWordWhereAnIntegerBelongs() {
        assertEquals(List.of("osvj.cpus: expected an integer 1..64, got \"two\""), problems("osvj.cpus = two"));
    }

    @Test
    void shouldRejectIntegersOutOfRange() {
        assertEquals(List.of("osvj.cpus: expected an integer 1..64, got 0"), problems("osvj.cpus = 0"));
        assertEquals(List.of("osvj.cpus: expected an integer 1..64, got 65"), problems("osvj.cpus = 65"));
        assertEquals(List.of("osvj.dmesg.lines: expected an integer 16..1000000, got 5"), problems("osvj.dmesg.lines = 5"));
    }

    @Test
    void shouldRejectAFractionWhereAnIntegerBelongs() {
        assertEquals(List.of("osvj.cpus: expected an integer 1..64, got 1.5"), problems("osvj.cpus = 1.5"));
    }

    @Test
    void shouldSuggestTheKeyThatWasMeant() {
        assertEquals(List.of("osvj.cpu: unknown key; did you mean osvj.cpus?"), problems("osvj.cpu = 2"));
        assertEquals(List.of("osvj.boot.chrat: unknown key; did you mean osvj.boot.chart?"), problems("osvj.boot.chrat = false"));
    }

    @Test
    void shouldSuggestAKeyGivenAtTheWrongLevel() {
        assertEquals(List.of("osvj.prompt: unknown key; did you mean osvj.console.prompt?"), problems("osvj.prompt = \"$ \""));
    }

    @Test
    void shouldRejectAnUnknownKeyWithNothingClose() {
        assertEquals(List.of("osvj.hypervisor-vendor-string: unknown key"), problems("osvj.hypervisor-vendor-string = kvm"));
    }

    @Test
    void shouldRejectAnInvalidInstanceName() {
        assertEquals(List.of("osvj.name: expected a name of letters, digits, '-' and '_' (at most 63, starting with a letter or digit), got \"my kernel\""),
            problems("osvj.name = \"my kernel\""));
    }

    @Test
    void shouldRejectANonBoolean() {
        assertEquals(List.of("osvj.console.enabled: expected true or false, got \"maybe\""), problems("osvj.console.enabled = maybe"));
    }

    @Test
    void shouldRejectABadDuration() {
        assertEquals(List.of("osvj.shutdown.timeout: expected a duration such as 100ms, 100ms..300s, got \"forever\""),
            problems("osvj.shutdown.timeout = forever"));
        assertEquals(List.of("osvj.shutdown.timeout: expected a duration such as 100ms, 100ms..300s, got \"1ms\""),
            problems("osvj.shutdown.timeout = 1ms"));
    }

    @Test
    void shouldRejectAnUnknownApplication() {
        assertEquals(List.of("osvj.app.name: expected one of echo, httpd, java, memcached, shell, got \"nginx\""), problems("osvj.app.name = nginx"));
    }

    @Test
    void shouldRejectAStringWhereAListBelongs() {
        assertEquals(List.of("osvj.app.args: expected a list of strings, got \"-m 64\""), problems("osvj.app.args = \"-m 64\""));
    }

    @Test
    void shouldRejectAListElementThatIsNotAString() {
        assertEquals(List.of("osvj.app.args[1]: expected a string, got an object"), problems("osvj.app.args = [a, {b = 1}]"));
    }

    @Test
    void shouldReportAScalarWhereAnObjectBelongsOnce() {
        assertEquals(List.of("osvj.app: expected an object, got \"memcached\""), problems("osvj.app = memcached"));
    }

    @Test
    void shouldRejectATracePatternThatMatchesNothing() {
        final List<String> p = problems("osvj.trace.enable = \"nosuch.*\"");
        assertEquals(1, p.size());
        assertEquals("osvj.trace.enable: pattern \"nosuch.*\" matches no tracepoint; tracepoints: "
            + String.join(", ", tracepoints.names()), p.get(0));
    }

    @Test
    void shouldListEveryProblemAtOnceInKeyOrder() {
        assertEquals(List.of(
                "osvj.console.enabled: expected true or false, got \"yes please\"",
                "osvj.cpus: expected an integer 1..64, got -1",
                "osvj.nmae: unknown key; did you mean osvj.name?"),
            problems("osvj { cpus = -1, nmae = x, console.enabled = \"yes please\" }"));
    }

    @Test
    void shouldReportASyntaxErrorWithItsLine() {
        final ConfigException e = assertThrows(ConfigException.class, () -> load("osvj {\n  cpus = 2\n  app { name = \n"));
        assertEquals(1, e.problems().size());
        final String message = e.problems().get(0).toString();
        assertEquals(dir.resolve("test.conf") + ": 4: " + syntaxReason(message), message);
    }

    private static String syntaxReason(final String message) {
        return message.substring(message.indexOf(": 4: ") + 5);
    }

    @Test
    void shouldRejectAMissingFile() {
        final ConfigException e = assertThrows(ConfigException.class, () -> KernelConfigLoader.load(dir.resolve("nope.conf"),
            List.of(), new Properties(), subsystems, tracepoints));
        assertEquals(List.of(dir.resolve("nope.conf") + ": no such configuration file"),
            e.problems().stream().map(Object::toString).toList());
    }

    @Test
    void shouldValidateSetOverrides() {
        assertEquals(List.of("osvj.cpus: expected an integer 1..64, got 100"), problems("", "osvj.cpus=100"));
        assertEquals(List.of("--set osvj.cpus: expected key=value"), problems("", "osvj.cpus"));
    }

    @Test
    void shouldParseStructuredSetValuesAsHoconEvenWithColonsInside() throws Exception {
        final Config c = KernelConfigLoader.layer(null,
            List.of("osvj.devices=[{type = net, backend = stream, address = \"unix:/tmp/passt.sock\"}]",
                "osvj.trace.file=/tmp/x:y.jfr"), new Properties());
        assertEquals("unix:/tmp/passt.sock", c.getConfigList("osvj.devices").get(0).getString("address"));
        assertEquals("/tmp/x:y.jfr", c.getString("osvj.trace.file"));
    }

    @Test
    void shouldLayerSetOverSystemPropertiesOverFile() throws Exception {
        final Path file = dir.resolve("layers.conf");
        Files.writeString(file, "osvj { cpus = 3, name = fromfile, dmesg.lines = 100 }");
        final Properties props = new Properties();
        props.setProperty("osvj.cpus", "5");
        props.setProperty("osvj.name", "fromprops");
        props.setProperty("osvj.home", "/not/a/kernel/key");
        final Config c = KernelConfigLoader.load(file, List.of("osvj.cpus=7", "osvj.trace.file=/tmp/a//b.jfr"), props,
            subsystems, tracepoints);
        assertEquals(7, c.getInt("osvj.cpus"));
        assertEquals("fromprops", c.getString("osvj.name"));
        assertEquals(100, c.getInt("osvj.dmesg.lines"));
        assertEquals("/tmp/a//b.jfr", c.getString("osvj.trace.file"));
    }

    @Test
    void shouldDeclareEveryReferenceKeyAndDocumentEveryDeclaredKey() throws Exception {
        // Every key in the merged reference.conf files is declared (validation of the bare reference
        // passes), and every declared key has its default in a reference.conf.
        final Config reference = KernelConfigLoader.layer(null, List.of(), new Properties());
        assertEquals(List.of(), KernelConfigLoader.spec(subsystems).validate(reference).stream().map(Object::toString).toList());
        for (final String path : KernelConfigLoader.spec(subsystems).paths()) {
            assertEquals(true, reference.hasPathOrNull(path), "declared but not in any reference.conf: " + path);
        }
    }
}
