/**
 * IPv4 control structures that do no I/O and take {@code now} as an argument: the ARP cache
 * ({@link dev.osvj.net.ip.ArpCache}), the routing table ({@link dev.osvj.net.ip.RouteTable}) and bounded
 * fragment reassembly ({@link dev.osvj.net.ip.Reassembler}).
 */
package dev.osvj.net.ip;
