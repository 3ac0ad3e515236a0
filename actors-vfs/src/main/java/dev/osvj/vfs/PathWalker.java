package dev.osvj.vfs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.locks.Lock;

/**
 * Path resolution (namei): walks a path from a start directory through the dentry cache, crossing
 * mounts and following symbolic links, with Linux's errno rules.
 *
 * <ul>
 *   <li>an empty path is ENOENT; a path of 4096 bytes or more, or a component over 255 bytes, is
 *       ENAMETOOLONG;</li>
 *   <li>a component looked up in something that is not a directory is ENOTDIR, and so is a trailing
 *       slash after a non-directory;</li>
 *   <li>more than 40 symbolic links in one resolution is ELOOP;</li>
 *   <li>a directory the user may not search (no x bit for a non-root user) is EACCES;</li>
 *   <li>{@code ..} at the root stays at the root, and {@code ..} at the root of a mount goes to the
 *       parent of the covered directory;</li>
 *   <li>symlinks in the middle of a path are always followed; the last component is followed on
 *       request, and always when a trailing slash follows it ({@code link/}).</li>
 * </ul>
 *
 * <p>The walk holds no lock while moving: each step is a lock-free dentry cache read, or on a miss the
 * directory's read lock around the filesystem's lookup (which is when the cache entry is added).
 */
final class PathWalker {
    /** The last component is a name. */
    static final int LAST_NORM = 0;
    /** The last component is {@code .}. */
    static final int LAST_DOT = 1;
    /** The last component is {@code ..}. */
    static final int LAST_DOTDOT = 2;
    /** The path is only slashes. */
    static final int LAST_ROOT = 3;

    /** The outcome of a walk. */
    static final class Nameidata {
        /** The directory that holds the last component. */
        Vnode dir;
        /** The last component, or null for {@link #LAST_ROOT}. */
        String name;
        int lastType;
        /** A slash followed the last component. */
        boolean trailingSlash;
        /** The last component's vnode after crossing mounts (final mode only); null when absent. */
        Vnode vnode;
    }

    private final Vfs vfs;
    private final DentryCache dcache;

    PathWalker(final Vfs vfs, final DentryCache dcache) {
        this.vfs = vfs;
        this.dcache = dcache;
    }

    /** Check a path argument: null is EFAULT, empty ENOENT, too long ENAMETOOLONG. */
    static void checkPath(final String path) throws ErrnoException {
        if (path == null) {
            throw new ErrnoException(Errno.EFAULT);
        }
        if (path.isEmpty()) {
            throw new ErrnoException(Errno.ENOENT);
        }
        if (path.length() >= Posix.PATH_MAX / 3 && utf8Length(path) >= Posix.PATH_MAX) {
            throw new ErrnoException(Errno.ENAMETOOLONG);
        }
    }

    static int utf8Length(final String s) {
        return utf8Length(s, 0, s.length());
    }

    /** UTF-8 length of {@code s[from, to)}. */
    static int utf8Length(final String s, final int from, final int to) {
        int n = 0;
        for (int i = from; i < to; i++) {
            final char c = s.charAt(i);
            if (c < 0x80) {
                n++;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < to) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }

    /**
     * Resolve {@code path} to an existing vnode (ENOENT when it does not exist). On the fast path (every
     * component in the dentry cache, no symlink) this allocates nothing: components are looked up
     * straight from the path's characters.
     */
    Vnode resolve(final Vnode start, final String path, final boolean followLast) throws ErrnoException {
        final Vnode vp = walk(start, path, false, followLast, null);
        if (vp == null) {
            throw new ErrnoException(Errno.ENOENT);
        }
        return vp;
    }

    /**
     * Walk {@code path}.
     *
     * @param parentMode stop before looking up the last component (for calls that create or remove
     *                   it: the caller looks it up with the directory locked); {@code nd.vnode} stays
     *                   null except for {@link #LAST_ROOT}, where dir and vnode are the directory itself
     * @param followLast follow a symbolic link in the last component (final mode only)
     */
    Nameidata walk(final Vnode start, final String path, final boolean parentMode, final boolean followLast)
        throws ErrnoException {
        final Nameidata nd = new Nameidata();
        walk(start, path, parentMode, followLast, nd);
        return nd;
    }

    /**
     * The walk. With {@code nd} null (final mode only) nothing is recorded and the result is the last
     * component's vnode, or null when it does not exist; otherwise {@code nd} is filled and the result
     * is {@code nd.vnode}.
     */
    private Vnode walk(final Vnode start, final String path, final boolean parentMode, final boolean followLast,
        final Nameidata nd) throws ErrnoException {
        checkPath(path);
        final Vnode root = vfs.rootVnode();
        if (root == null) {
            throw new ErrnoException(Errno.ENOENT);
        }
        final boolean checkSearch = vfs.uid() != 0;
        int links = 0;
        String p = path;
        int n = p.length();
        int i = 0;
        Vnode cur = p.charAt(0) == '/' ? root : start;
        while (true) {
            while (i < n && p.charAt(i) == '/') {
                i++;
            }
            if (i == n) {
                // Nothing but slashes left: the path names the directory we are in (the root, or a
                // symlink's target that was "/").
                if (nd != null) {
                    nd.dir = cur;
                    nd.vnode = cur;
                    nd.lastType = LAST_ROOT;
                    nd.trailingSlash = true;
                }
                return cur;
            }
            // The component is p[i, j); its String hash is computed on the way.
            int j = i;
            int hash = 0;
            char c;
            while (j < n && (c = p.charAt(j)) != '/') {
                hash = 31 * hash + c;
                j++;
            }
            final int len = j - i;
            if (len > Posix.NAME_MAX / 3 && utf8Length(p, i, j) > Posix.NAME_MAX) {
                throw new ErrnoException(Errno.ENAMETOOLONG);
            }
            int k = j;
            while (k < n && p.charAt(k) == '/') {
                k++;
            }
            final boolean last = k == n;
            final boolean trailing = last && j < n;
            if (!cur.isDir()) {
                throw new ErrnoException(Errno.ENOTDIR);
            }
            if (checkSearch && vfs.permission(cur, Posix.X_OK) < 0) {
                throw new ErrnoException(Errno.EACCES); // search permission on every directory walked
            }
            final int type = p.charAt(i) != '.' || len > 2 ? LAST_NORM
                : len == 1 ? LAST_DOT : p.charAt(i + 1) == '.' ? LAST_DOTDOT : LAST_NORM;
            if (last && parentMode) {
                nd.dir = cur;
                nd.name = p.substring(i, j);
                nd.lastType = type;
                nd.trailingSlash = trailing;
                return null;
            }
            Vnode next;
            if (type == LAST_DOT) {
                next = cur;
            } else if (type == LAST_DOTDOT) {
                next = parentOf(cur, root);
            } else {
                next = dcache.get(cur, p, i, j, hash);
                if (next == null) {
                    next = lookupUncached(cur, p.substring(i, j));
                }
                if (next == null) {
                    if (last) {
                        if (nd != null) {
                            nd.dir = cur;
                            nd.name = p.substring(i, j);
                            nd.lastType = LAST_NORM;
                            nd.trailingSlash = trailing;
                        }
                        return null;
                    }
                    throw new ErrnoException(Errno.ENOENT);
                }
                next = crossMounts(next);
                if (next.type() == VType.VLNK && (!last || followLast || trailing)) {
                    if (++links > Posix.MAXSYMLINKS) {
                        throw new ErrnoException(Errno.ELOOP);
                    }
                    final String target = readlink(next);
                    if (target.isEmpty()) {
                        throw new ErrnoException(Errno.ENOENT);
                    }
                    p = target + p.substring(j);
                    n = p.length();
                    if (utf8Length(p) >= Posix.PATH_MAX) {
                        throw new ErrnoException(Errno.ENAMETOOLONG);
                    }
                    i = 0;
                    if (target.charAt(0) == '/') {
                        cur = root;
                    }
                    continue;
                }
            }
            if (last) {
                if (trailing && !next.isDir()) {
                    throw new ErrnoException(Errno.ENOTDIR);
                }
                if (nd != null) {
                    nd.dir = cur;
                    nd.name = p.substring(i, j);
                    nd.lastType = type;
                    nd.trailingSlash = trailing;
                    nd.vnode = next;
                }
                return next;
            }
            cur = next;
            i = k;
        }
    }

    /** The directory {@code ..} leads to from {@code dir}, in the VFS's view (across mounts). */
    static Vnode parentOf(final Vnode dir, final Vnode root) {
        Vnode cur = dir;
        if (cur == root) {
            return cur;
        }
        while (cur.mount().root == cur && cur.mount().covered != null) {
            cur = cur.mount().covered;
            if (cur == root) {
                return cur;
            }
        }
        final Vnode p = cur.parent;
        return p == null ? cur : p;
    }

    /** The vnode at the top of the stack of mounts on {@code vp} (itself when nothing is mounted). */
    static Vnode crossMounts(final Vnode vp) {
        Vnode cur = vp;
        Mount m;
        while ((m = cur.mountedHere) != null) {
            cur = m.root;
        }
        return cur;
    }

    /**
     * The child {@code name} of directory {@code dir} in its own filesystem (no mount crossing), or
     * null. Lock-free on a dentry cache hit; otherwise under {@code dir}'s read lock.
     */
    Vnode lookup(final Vnode dir, final String name) throws ErrnoException {
        final Vnode cached = dcache.get(dir, name);
        if (cached != null) {
            return cached;
        }
        return lookupUncached(dir, name);
    }

    /** {@link #lookup} after a dentry cache miss: under {@code dir}'s read lock. */
    private Vnode lookupUncached(final Vnode dir, final String name) throws ErrnoException {
        final Lock l = dir.lock().readLock();
        l.lock();
        try {
            return lookupLocked(dir, name);
        } finally {
            l.unlock();
        }
    }

    /** {@link #lookup} for a caller that holds {@code dir}'s read or write lock. */
    Vnode lookupLocked(final Vnode dir, final String name) throws ErrnoException {
        final Vnode cached = dir.dentries.get(name);
        if (cached != null) {
            return cached;
        }
        if (dir.nlink() == 0) {
            return null;
        }
        final Vnode v = dir.ops().lookup(dir, name);
        if (v != null) {
            if (v.isDir()) {
                v.parent = dir;
                v.name = name;
            }
            dcache.put(dir, name, v);
        }
        return v;
    }

    static String readlink(final Vnode link) throws ErrnoException {
        final Lock l = link.lock().readLock();
        l.lock();
        try {
            return link.ops().readlink(link);
        } finally {
            l.unlock();
        }
    }

    /** The absolute path of directory {@code dir} (for getcwd and mount points). */
    static String pathOf(final Vnode dir, final Vnode root) throws ErrnoException {
        final StringBuilder sb = new StringBuilder();
        Vnode cur = dir;
        int guard = 0;
        while (cur != root) {
            if (++guard > Posix.PATH_MAX) {
                throw new ErrnoException(Errno.ENAMETOOLONG);
            }
            final Mount m = cur.mount();
            if (m.root == cur) {
                if (m.covered == null) {
                    break;
                }
                cur = m.covered;
                continue;
            }
            if (cur.nlink() == 0 || cur.parent == null || cur.name == null) {
                throw new ErrnoException(Errno.ENOENT);
            }
            sb.insert(0, cur.name).insert(0, '/');
            cur = cur.parent;
        }
        return sb.isEmpty() ? "/" : sb.toString();
    }

    static byte[] utf8(final String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
