package dev.osvj.fleet;

import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The Kryo serializer of fleet control messages: round trips, Pekko's binding, unregistered classes refused. */
class FleetSerializerTest {
    private final FleetSerializer serializer = new FleetSerializer();

    @Test
    void shouldRoundTripEveryMessage() {
        final List<Object> messages = List.of(
            new FleetProtocol.Assignment("cache-0", "cache", "127.0.0.2:25520"),
            new FleetProtocol.Placements(3, 7, List.of(new FleetProtocol.Assignment("a-0", "a", "n1"),
                new FleetProtocol.Assignment("a-1", "a", "n2")), List.of("a=2", "b=0")),
            new FleetProtocol.NodeReport("n1", new ArrayList<>(List.of("a-0\ta\tn1\tRUNNING\t-\t3.10\t5\t\t0")), 3, 7,
                List.of("a=2", "b=0")),
            new FleetProtocol.NodeReport("n2", List.of(), 0, 0, List.of()),
            new FleetProtocol.Scale("web", 3, "pekko://osvj-fleet@127.0.0.1:1/temp/$a"),
            new FleetProtocol.Status("pekko://osvj-fleet@127.0.0.1:1/temp/$b"),
            new FleetProtocol.StopFleet("pekko://osvj-fleet@127.0.0.1:1/temp/$c"),
            new FleetProtocol.ControlReply("ok scaled web to 3", List.of()),
            new FleetProtocol.Shutdown(4),
            new FleetProtocol.SwitchEndpoints("127.0.0.2:25520", List.of("back=127.0.0.2:40001")),
            new FleetProtocol.FleetState(4, List.of("a=2", "b=0")));
        for (final Object m : messages) {
            assertEquals(m, serializer.fromBinary(serializer.toBinary(m)));
        }
    }

    @Test
    void shouldBeThePekkoSerializerOfFleetMessagesAndRefuseUnregisteredClasses() {
        final ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "serializer-test", ConfigFactory.parseString("""
            pekko.actor.serializers.osvj-fleet-kryo = "dev.osvj.fleet.FleetSerializer"
            pekko.actor.serialization-bindings { "dev.osvj.fleet.FleetProtocol$Message" = osvj-fleet-kryo }
            """).withFallback(ConfigFactory.load()));
        try {
            final Serialization s = SerializationExtension.get(system);
            final FleetProtocol.Scale m = new FleetProtocol.Scale("web", 2, "");
            final Serializer found = s.findSerializerFor(m);
            assertInstanceOf(FleetSerializer.class, found);
            final byte[] bytes = found.toBinary(m);
            assertEquals(m, s.deserialize(bytes, FleetSerializer.IDENTIFIER, "").get());
            assertArrayEquals(bytes, serializer.toBinary(m));
        } finally {
            system.terminate();
        }
        assertThrows(IllegalArgumentException.class, () -> serializer.toBinary(new java.util.Date()));
    }
}
