package dev.osvj.fleet;

import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.ddata.Key;
import org.apache.pekko.cluster.ddata.LWWRegister;
import org.apache.pekko.cluster.ddata.LWWRegisterKey;
import org.apache.pekko.cluster.ddata.SelfUniqueAddress;
import org.apache.pekko.cluster.ddata.typed.javadsl.DistributedData;
import org.apache.pekko.cluster.ddata.typed.javadsl.Replicator;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Where the placement singleton keeps the fleet's desired state ({@link FleetProtocol.FleetState}: its
 * epoch and the replica counts) so that a successor singleton on another node finds it. The singleton
 * reads before its first placement and writes before it places as a new incarnation and before it
 * answers a {@code scale} ok; both are asynchronous (the singleton pipes the result to itself).
 *
 * <p>{@link #distributed} is the cluster's: a Pekko Distributed Data {@code LWWRegister} under the key
 * {@code osvj-fleet-state-FLEET}, read with {@code ReadMajority} and written with {@code WriteMajority}
 * (so a write that succeeded is seen by any later majority read: the two majorities share a node).
 * The register orders writes by its clock, {@code max(now, previous + 1)}: the writer always read the
 * previous value first (a successor's read merges it into its local replica), so a later write wins
 * even with clocks that disagree between nodes. {@link #inMemory} is for tests of the singleton alone.
 */
interface FleetStore {
    /** The stored state, or empty when none was ever written; fails when no majority answered. */
    CompletionStage<Optional<FleetProtocol.FleetState>> read();

    /** Store {@code state}; completes when a majority of the nodes has it, fails otherwise. */
    CompletionStage<Void> write(FleetProtocol.FleetState state);

    /** How long a majority read or write waits for the other nodes. */
    Duration MAJORITY_TIMEOUT = Duration.ofSeconds(5);

    /** The state in Distributed Data of {@code system} (a cluster member; every node must start its replicator). */
    static FleetStore distributed(final ActorSystem<?> system, final String fleet) {
        final DistributedData dd = DistributedData.get(system);
        final SelfUniqueAddress self = dd.selfUniqueAddress();
        final Key<LWWRegister<FleetProtocol.FleetState>> key = LWWRegisterKey.create("osvj-fleet-state-" + fleet);
        final Duration askTimeout = MAJORITY_TIMEOUT.plusSeconds(2);
        return new FleetStore() {
            @Override
            public CompletionStage<Optional<FleetProtocol.FleetState>> read() {
                return AskPattern.<Replicator.Command, Replicator.GetResponse<LWWRegister<FleetProtocol.FleetState>>>ask(
                    dd.replicator(), replyTo -> new Replicator.Get<>(key, new Replicator.ReadMajority(MAJORITY_TIMEOUT), replyTo),
                    askTimeout, system.scheduler()).thenApply(r -> {
                        if (r instanceof Replicator.GetSuccess<LWWRegister<FleetProtocol.FleetState>> ok) {
                            return Optional.of(ok.dataValue().getValue());
                        }
                        if (r instanceof Replicator.NotFound<?>) {
                            return Optional.empty();
                        }
                        throw new IllegalStateException("fleet state not read from a majority of the nodes: " + r);
                    });
            }

            @Override
            public CompletionStage<Void> write(final FleetProtocol.FleetState state) {
                return AskPattern.<Replicator.Command, Replicator.UpdateResponse<LWWRegister<FleetProtocol.FleetState>>>ask(
                    dd.replicator(), replyTo -> new Replicator.Update<>(key, LWWRegister.create(self, state),
                        new Replicator.WriteMajority(MAJORITY_TIMEOUT), replyTo, reg -> reg.withValue(self, state)),
                    askTimeout, system.scheduler()).thenApply(r -> {
                        if (r instanceof Replicator.UpdateSuccess<?>) {
                            return null;
                        }
                        throw new IllegalStateException("fleet state not stored on a majority of the nodes: " + r);
                    });
            }
        };
    }

    /** A store in this JVM's memory: several singletons given the same one see each other's writes. */
    static FleetStore inMemory() {
        final AtomicReference<FleetProtocol.FleetState> stored = new AtomicReference<>();
        return new FleetStore() {
            @Override
            public CompletionStage<Optional<FleetProtocol.FleetState>> read() {
                return CompletableFuture.completedFuture(Optional.ofNullable(stored.get()));
            }

            @Override
            public CompletionStage<Void> write(final FleetProtocol.FleetState state) {
                stored.set(state);
                return CompletableFuture.completedFuture(null);
            }
        };
    }
}
