package dev.osvj.vfs.ramfs;

import dev.osvj.vfs.Vnode;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A ramfs directory's entries: by name for lookup, and by insertion sequence for readdir, so a
 * directory cookie stays valid while entries come and go (an entry added after a reader started is
 * seen or not, but none is skipped or repeated). Not thread-safe: the VFS holds the directory's read
 * lock for lookup and readdir and its write lock for changes.
 */
final class RamDir {
    record Entry(String name, Vnode vnode, long seq) {
    }

    final Map<String, Entry> byName = new HashMap<>();
    final TreeMap<Long, Entry> bySeq = new TreeMap<>();
    private long nextSeq;

    void add(final String name, final Vnode vnode) {
        final Entry e = new Entry(name, vnode, nextSeq++);
        byName.put(name, e);
        bySeq.put(e.seq(), e);
    }

    Entry remove(final String name) {
        final Entry e = byName.remove(name);
        if (e != null) {
            bySeq.remove(e.seq());
        }
        return e;
    }

    Vnode get(final String name) {
        final Entry e = byName.get(name);
        return e == null ? null : e.vnode();
    }
}
