package dev.osvj.net.tcp;

/**
 * The RFC 9293 connection states (§3.3.2), with their Linux-style names for netstat. LISTEN belongs to
 * {@link TcpListener}; a {@link TcpConnection} is in one of the others.
 */
public enum TcpState {
    CLOSED("CLOSE"),
    LISTEN("LISTEN"),
    SYN_SENT("SYN_SENT"),
    SYN_RECEIVED("SYN_RECV"),
    ESTABLISHED("ESTABLISHED"),
    FIN_WAIT_1("FIN_WAIT1"),
    FIN_WAIT_2("FIN_WAIT2"),
    CLOSE_WAIT("CLOSE_WAIT"),
    CLOSING("CLOSING"),
    LAST_ACK("LAST_ACK"),
    TIME_WAIT("TIME_WAIT");

    private final String netstatName;

    TcpState(final String netstatName) {
        this.netstatName = netstatName;
    }

    public String netstatName() {
        return netstatName;
    }

    /** States after the handshake in which our side may still receive data. */
    public boolean canReceive() {
        return this == ESTABLISHED || this == FIN_WAIT_1 || this == FIN_WAIT_2;
    }

    /** States in which the application may still send. */
    public boolean canSend() {
        return this == ESTABLISHED || this == CLOSE_WAIT;
    }

    /** Synchronized states (RFC 9293 terminology): the handshake is complete. */
    public boolean synchronizedState() {
        return ordinal() >= ESTABLISHED.ordinal();
    }
}
