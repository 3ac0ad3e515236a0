package dev.osvj.fleet;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.util.Pool;
import org.apache.pekko.serialization.JSerializer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * The Pekko serializer of fleet control messages that cross nodes: Kryo over a pool of Kryo instances
 * (a Kryo is not thread-safe; Artery serializes on several threads), with every message class
 * registered, so the wire carries a small class id and the fields, never class names, and an
 * unregistered class is refused rather than sent.
 *
 * <p>Bind it in the cluster configuration:
 * <pre>{@code
 * pekko.actor.serializers.osvj-fleet-kryo = "dev.osvj.fleet.FleetSerializer"
 * pekko.actor.serialization-bindings { "dev.osvj.fleet.FleetProtocol$Message" = osvj-fleet-kryo }
 * }</pre>
 * Wire format: one Kryo {@code writeClassAndObject} (a varint class id, then the record's fields in
 * component order).
 */
public final class FleetSerializer extends JSerializer {
    /** Pekko serializer id: unique in the ActorSystem; 0..40 are Pekko's own. */
    public static final int IDENTIFIER = 0x05_F1_EE_70;

    private static final int POOL_SIZE = 16;

    private final Pool<Kryo> pool = new Pool<>(true, false, POOL_SIZE) {
        @Override
        protected Kryo create() {
            return newKryo();
        }
    };

    /** A Kryo with the message classes registered, in a fixed order (both ends must agree). */
    static Kryo newKryo() {
        final Kryo kryo = new Kryo();
        kryo.setRegistrationRequired(true);
        kryo.register(ArrayList.class);
        kryo.register(LinkedHashMap.class);
        kryo.register(List.of().getClass());
        kryo.register(List.of(1).getClass());
        kryo.register(List.of(1, 2, 3).getClass());
        for (final Class<?> c : FleetProtocol.MESSAGES) {
            kryo.register(c);
        }
        return kryo;
    }

    @Override
    public int identifier() {
        return IDENTIFIER;
    }

    @Override
    public boolean includeManifest() {
        return false;
    }

    @Override
    public byte[] toBinary(final Object o) {
        final Kryo kryo = pool.obtain();
        try (Output out = new Output(256, -1)) {
            kryo.writeClassAndObject(out, o);
            return out.toBytes();
        } finally {
            pool.free(kryo);
        }
    }

    @Override
    public Object fromBinaryJava(final byte[] bytes, final Class<?> manifest) {
        final Kryo kryo = pool.obtain();
        try (Input in = new Input(bytes)) {
            return kryo.readClassAndObject(in);
        } finally {
            pool.free(kryo);
        }
    }
}
