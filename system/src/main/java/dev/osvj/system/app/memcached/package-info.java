/**
 * The memcached-compatible server, osvj's headline application (OSv's memcached benchmark).
 *
 * <p>Layers, each usable without the ones above it:
 * <ul>
 *   <li>{@code Slabs} and {@code Item}: memcached's slab classes over the kernel's malloc; items (header,
 *       key, value) live in guest memory;</li>
 *   <li>{@code ItemStore}: hash table, per-class LRU, expiration, flush_all, CAS, counters, with the
 *       clock passed in;</li>
 *   <li>{@code TextProtocol} and {@code BinaryProtocol} ({@code BinaryHeader} is the binary wire format):
 *       the protocol engines over byte arrays, one per connection, chosen by its first byte;</li>
 *   <li>{@link dev.osvj.system.app.memcached.MemcachedServer}: sockets, an acceptor and epoll
 *       workers;</li>
 *   <li>{@link dev.osvj.system.app.memcached.MemcachedApplication}: {@code osvj.app.name = memcached}.</li>
 * </ul>
 */
package dev.osvj.system.app.memcached;
