/**
 * DHCP for IPv4 (RFC 2131, options RFC 2132): the message format ({@link dev.osvj.net.dhcp.DhcpMessage},
 * parse/emit on literal bytes) and the client state machine ({@link dev.osvj.net.dhcp.DhcpClient}), which
 * does no I/O and takes time as an argument. The kernel drives a client per {@code dhcp = true}
 * interface from an actor over the stack's own UDP sockets; the user gateway answers with a small
 * server built on the same message class.
 */
package dev.osvj.net.dhcp;
