package dev.osvj.vfs;

/** Where {@link VnodeOps#readdir} puts entries. */
@FunctionalInterface
public interface DirentSink {
    /**
     * Offer one entry.
     *
     * @param next the cookie that continues after this entry
     * @return false when the sink is full: the entry was not taken and readdir must stop and return
     *         the cookie of this entry
     */
    boolean accept(long ino, String name, VType type, long next);
}
