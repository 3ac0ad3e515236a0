/**
 * Wire formats as checked flyweights over an Agrona {@link org.agrona.MutableDirectBuffer}, one class
 * per header, smoltcp style: field offsets are named constants, {@code wrap(buffer, offset, length)}
 * returns {@code false} for input too short or malformed to be read safely (after a {@code true}
 * return no accessor reads outside {@code [offset, offset + length)}), and {@code emit} methods write
 * every byte of the header they own (the tests emit into {@code 0xA5}-filled buffers to catch reliance
 * on zeroes). All multi-byte fields are big-endian (network order). Addresses are primitive: IPv4 as an
 * {@code int}, MAC as the low 48 bits of a {@code long}, so parsing allocates nothing.
 *
 * <p>Flyweights are not thread-safe: one per thread or per processing context, re-wrapped per packet.
 */
package dev.osvj.net.wire;
