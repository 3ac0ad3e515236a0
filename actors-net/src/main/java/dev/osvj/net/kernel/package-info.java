/**
 * The stack inside a kernel instance: the actors that drive it (one interrupt actor per interface, the
 * timer tick, the layered receive stage, and the per-flow net-channel actors under their supervisor)
 * and the console commands. Control plane only: bytes never travel in actor messages; a message is a
 * doorbell ("frames are waiting", "your channel has packets") and the data moves through device
 * rings and net channels.
 */
package dev.osvj.net.kernel;
