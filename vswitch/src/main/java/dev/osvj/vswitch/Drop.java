package dev.osvj.vswitch;

/**
 * Why the switch dropped a frame, one counter per reason and port ({@link PortStats#drops}). A frame is
 * counted on the port it came in on for the ingress reasons and on the port it was going out of for
 * the egress reasons.
 */
public enum Drop {
    /** Ingress: shorter than an Ethernet header (14 bytes). */
    RUNT,
    /** Ingress: the Ethernet payload is larger than the switch's MTU (plus room for one 802.1Q tag). */
    GIANT,
    /** Ingress: a group (multicast/broadcast) source MAC, which no station may send from. */
    BAD_SOURCE,
    /** Ingress: the destination was learned on the ingress port itself, so it already has the frame. */
    FILTERED,
    /**
     * Ingress: a unicast frame from a trunk link whose destination was learned on another trunk link
     * (split horizon: in a full mesh of switches every switch hears a station's frames directly, so a
     * frame never crosses two trunks).
     */
    SPLIT_HORIZON,
    /** Ingress: a message on the port's session that is neither a frame nor a known control message. */
    MALFORMED,
    /** Egress: the port's downlink had no room (Aeron back pressure); the switch never waits. */
    BACK_PRESSURED,
    /** Egress: the port's downlink is not connected yet (or any more). */
    NOT_CONNECTED
}
