package dev.osvj.net.stack;

import dev.osvj.net.dev.NetDevice;
import dev.osvj.net.wire.EthernetFrame;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One configured interface of a stack: a {@link NetDevice} plus its IPv4 address, netmask and gateway,
 * its counters, and its transmit scratch buffer. Address fields are volatile (DHCP changes them while
 * traffic flows); the scratch buffer is guarded by {@link #txLock}.
 */
public final class NetInterface {
    private final int index;
    private final NetDevice device;
    private final boolean loopback;
    private volatile int address;
    private volatile int netmask;
    private volatile int gateway;
    private volatile boolean up = true;
    final ReentrantLock txLock = new ReentrantLock();
    /** The receive path's entry for this interface (what the device's poll delivers to). */
    dev.osvj.net.dev.FrameHandler rxHandler;
    /** True when the device pushes frames from its own receive context ({@link NetDevice#deliverInline}). */
    boolean inlineReceive;
    /** Loopback segments of established flows go straight into net channels ({@code NetStack.loopbackToChannel}). */
    boolean loopbackToChannel;
    final UnsafeBuffer txBuffer;
    final AtomicLong rxPackets = new AtomicLong();
    final AtomicLong rxBytes = new AtomicLong();
    final AtomicLong txPackets = new AtomicLong();
    final AtomicLong txBytes = new AtomicLong();
    final AtomicLong rxDropped = new AtomicLong();
    final AtomicLong txDropped = new AtomicLong();
    /** Set once when the first over-MTU transmit drop was reported ({@code NetStack.dropOverMtu}). */
    final java.util.concurrent.atomic.AtomicBoolean overMtuReported = new java.util.concurrent.atomic.AtomicBoolean();

    NetInterface(final int index, final NetDevice device, final boolean loopback, final int address,
        final int netmask, final int gateway) {
        this.index = index;
        this.device = device;
        this.loopback = loopback;
        this.address = address;
        this.netmask = netmask;
        this.gateway = gateway;
        this.txBuffer = new UnsafeBuffer(new byte[device.mtu() + EthernetFrame.HEADER_LENGTH]);
    }

    public int index() {
        return index;
    }

    public String name() {
        return device.name();
    }

    public NetDevice device() {
        return device;
    }

    public boolean loopback() {
        return loopback;
    }

    public int address() {
        return address;
    }

    public int netmask() {
        return netmask;
    }

    public int gateway() {
        return gateway;
    }

    public int mtu() {
        return device.mtu();
    }

    public long mac() {
        return device.mac();
    }

    /** True when the device delivers frames itself (push mode); no receive actor polls it. */
    public boolean inlineReceive() {
        return inlineReceive;
    }

    public boolean up() {
        return up;
    }

    void setUp(final boolean on) {
        up = on;
    }

    void configure(final int address, final int netmask, final int gateway) {
        this.address = address;
        this.netmask = netmask;
        this.gateway = gateway;
    }

    /** The subnet's directed broadcast address, or 0 when unconfigured. */
    public int broadcast() {
        final int a = address;
        return a == 0 ? 0 : a | ~netmask;
    }

    public long rxPackets() {
        return rxPackets.get();
    }

    public long rxBytes() {
        return rxBytes.get();
    }

    public long txPackets() {
        return txPackets.get();
    }

    public long txBytes() {
        return txBytes.get();
    }

    public long rxDropped() {
        return rxDropped.get() + device.droppedFrames();
    }

    public long txDropped() {
        return txDropped.get();
    }
}
