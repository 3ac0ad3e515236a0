package dev.osvj.system.glue;

import dev.osvj.net.stack.Sockets;
import dev.osvj.sched.CpuStats;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The Linux formats the proc glue writes, on hand-made numbers. */
class ProcGlueFormatTest {
    @Test
    void shouldWriteTcpAndUdpLinesAsLinuxDoes() {
        final List<Sockets.SocketInfo> socks = List.of(
            new Sockets.SocketInfo("tcp", 0x0A00_020F, 80, 0x0A00_0202, 51000, "ESTABLISHED", 3, 7),
            new Sockets.SocketInfo("udp", 0, 68, 0, 0, "", 0, 0),
            new Sockets.SocketInfo("tcp", 0, 22, 0, 0, "LISTEN", 0, 0));
        assertEquals(List.of(
                "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
                "   0: 0F02000A:0050 0202000A:C738 01 00000007:00000003 00:00000000 00000000     0        0 0",
                "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 0"),
            ProcGlueSubsystem.sockets(socks, "tcp").lines().toList());
        assertEquals("   0: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 0",
            ProcGlueSubsystem.sockets(socks, "udp").lines().toList().get(1));
        assertEquals(0x06, ProcGlueSubsystem.tcpState("TIME_WAIT"));
        assertEquals(0x08, ProcGlueSubsystem.tcpState("CLOSE_WAIT"));
    }

    @Test
    void shouldChargeBusyTimeAsUserAndTheRestOfTheUptimeAsIdle() {
        final CpuStats cpu0 = new CpuStats(0, "running", 2, 40, 0, 0, 0, 5, 0, 0, 0, 10, 0, 0, 1_500_000_000L, 0, 0, 0, 0);
        final CpuStats cpu1 = new CpuStats(1, "halted", 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 250_000_000L, 0, 0, 0, 0);
        assertEquals("""
            cpu  175 0 0 825 0 0 0 0 0 0
            cpu0 150 0 0 350 0 0 0 0 0 0
            cpu1 25 0 0 475 0 0 0 0 0 0
            intr 19
            ctxt 42
            btime 1700000000
            processes 9
            procs_running 2
            procs_blocked 0
            """, ProcGlueSubsystem.stat(List.of(cpu0, cpu1), 5_000_000_000L, 1_700_000_000L, 9));
    }
}
