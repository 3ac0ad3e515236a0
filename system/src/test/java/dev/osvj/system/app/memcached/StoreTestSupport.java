package dev.osvj.system.app.memcached;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/** For the protocol engine tests: guest memory and the kernel's malloc per class, a fresh store per test. */
abstract class StoreTestSupport {
    protected static Fixture fixture;
    protected ItemStore store;

    @BeforeAll
    static void memory() {
        fixture = new Fixture(256L << 20);
    }

    @AfterAll
    static void release() {
        fixture.close();
    }

    @BeforeEach
    void newStore() {
        store = fixture.store();
    }

    @AfterEach
    void closeStore() {
        store.close();
    }
}
