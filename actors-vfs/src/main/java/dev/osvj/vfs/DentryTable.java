package dev.osvj.vfs;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * One directory's dentries: child name to vnode, read without locks and without allocating, so path
 * resolution can look a component up straight from the path string ({@link #get(String, int, int, int)}
 * compares the characters in place; no substring is made on a hit).
 *
 * <p>A chained hash table of immutable nodes. <b>Readers</b> load the table (volatile) and a bucket
 * head (acquire) and walk the chain; nodes never change after publication, so a reader always sees a
 * consistent chain, at worst a moment old. <b>Writers</b> (adds under the directory's read lock,
 * removals under its write lock, see {@link DentryCache}) synchronise on the table: an add publishes
 * a new head with a release store; a removal republishes the bucket with the nodes before the removed
 * one copied; growing builds a new array of copied nodes and publishes it. A reader racing a change
 * may miss the entry being added or see one being removed, exactly as if it had run just before;
 * a miss only sends the lookup to the filesystem.
 *
 * <pre>
 *   table: [0] -> ("lib", vn7) -> ("etc", vn3) -> null
 *          [1] -> null
 *          [2] -> ("tmp", vn9) -> null            hash = String.hashCode of the name
 * </pre>
 */
final class DentryTable {
    private static final VarHandle BUCKET = MethodHandles.arrayElementVarHandle(Node[].class);

    private static final class Node {
        final String name;
        final int hash;
        final Vnode child;
        final Node next;

        Node(final String name, final int hash, final Vnode child, final Node next) {
            this.name = name;
            this.hash = hash;
            this.child = child;
            this.next = next;
        }
    }

    private volatile Node[] table = new Node[4];
    /** Guarded by this. */
    private int count;

    /** {@link String#hashCode()} of {@code s[from, to)}, computed in place. */
    static int hash(final String s, final int from, final int to) {
        int h = 0;
        for (int i = from; i < to; i++) {
            h = 31 * h + s.charAt(i);
        }
        return h;
    }

    Vnode get(final String name) {
        return get(name, 0, name.length(), name.hashCode());
    }

    /** The child named {@code path[from, to)} (whose {@link #hash} is {@code hash}), or null. Lock-free. */
    Vnode get(final String path, final int from, final int to, final int hash) {
        final Node[] t = table;
        final int len = to - from;
        for (Node n = (Node)BUCKET.getAcquire(t, hash & (t.length - 1)); n != null; n = n.next) {
            if (n.hash == hash && n.name.length() == len && sameChars(n.name, path, from, len)) {
                return n.child;
            }
        }
        return null;
    }

    /** {@code name} equals {@code path[from, from + len)}; a plain loop, as names are short. */
    private static boolean sameChars(final String name, final String path, final int from, final int len) {
        for (int i = 0; i < len; i++) {
            if (name.charAt(i) != path.charAt(from + i)) {
                return false;
            }
        }
        return true;
    }

    /** Add {@code name -> child} unless the name is there; true when added. */
    synchronized boolean putIfAbsent(final String name, final Vnode child) {
        final int h = name.hashCode();
        if (get(name, 0, name.length(), h) != null) {
            return false;
        }
        Node[] t = table;
        if (count + 1 > t.length - (t.length >> 2)) {
            t = grow(t);
        }
        final int i = h & (t.length - 1);
        BUCKET.setRelease(t, i, new Node(name, h, child, (Node)BUCKET.getAcquire(t, i)));
        count++;
        return true;
    }

    /** Remove {@code name}; returns its child, or null when absent. */
    synchronized Vnode remove(final String name) {
        return remove(name, null);
    }

    /**
     * Remove {@code name} if it maps to {@code child} (any child when {@code child} is null); returns
     * the removed child or null.
     */
    synchronized Vnode remove(final String name, final Vnode child) {
        final Node[] t = table;
        final int h = name.hashCode();
        final int i = h & (t.length - 1);
        final Node head = (Node)BUCKET.getAcquire(t, i);
        Node n = head;
        while (n != null && !(n.hash == h && n.name.equals(name))) {
            n = n.next;
        }
        if (n == null || child != null && n.child != child) {
            return null;
        }
        BUCKET.setRelease(t, i, copyWithout(head, n));
        count--;
        return n.child;
    }

    /** The chain from {@code head} without {@code gone}: the nodes before it copied, the rest shared. */
    private static Node copyWithout(final Node head, final Node gone) {
        if (head == gone) {
            return gone.next;
        }
        return new Node(head.name, head.hash, head.child, copyWithout(head.next, gone));
    }

    private Node[] grow(final Node[] old) {
        final Node[] t = new Node[old.length * 2];
        for (final Node first : old) {
            for (Node n = first; n != null; n = n.next) {
                final int i = n.hash & (t.length - 1);
                t[i] = new Node(n.name, n.hash, n.child, t[i]);
            }
        }
        table = t; // volatile: publishes the filled array
        return t;
    }

    synchronized List<String> names() {
        final List<String> out = new ArrayList<>(count);
        for (final Node first : table) {
            for (Node n = first; n != null; n = n.next) {
                out.add(n.name);
            }
        }
        return out;
    }

    synchronized int size() {
        return count;
    }
}
