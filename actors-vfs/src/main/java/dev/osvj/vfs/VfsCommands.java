package dev.osvj.vfs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.kernel.console.ConsoleCommand;
import dev.osvj.kernel.console.ConsoleCommands;
import dev.osvj.kernel.console.Terminal;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The VFS's console commands: {@code ls [-l] [-a]}, {@code cat}, {@code mkdir [-p]}, {@code rm [-r] [-f]},
 * {@code cp}, {@code mv}, {@code stat}, {@code mount}, {@code umount}, {@code df}, {@code echo ... > file}.
 * They call the same {@link Vfs} the application does, and print errors as the coreutils do
 * ({@code ls: cannot access '/x': No such file or directory}) with exit status 1.
 */
final class VfsCommands {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("MMM dd HH:mm").withZone(ZoneOffset.UTC);

    private final Vfs vfs;

    VfsCommands(final Vfs vfs) {
        this.vfs = vfs;
    }

    @FunctionalInterface
    private interface Body {
        int run(List<String> args, PrintStream out) throws Exception;
    }

    private static ConsoleCommand command(final String name, final String synopsis, final Body body) {
        return new ConsoleCommand() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public String synopsis() {
                return synopsis;
            }

            @Override
            public int run(final List<String> args, final Terminal terminal) throws Exception {
                return body.run(args, terminal.out());
            }
        };
    }

    /** Every command of this class. */
    List<ConsoleCommand> all() {
        return List.of(
            command("ls", "ls [-l] [-a] [PATH...]: list directory contents", this::ls),
            command("cat", "cat FILE...: print files", this::cat),
            command("mkdir", "mkdir [-p] DIR...: make directories", this::mkdir),
            command("rm", "rm [-r] [-f] PATH...: remove files (and directories with -r)", this::rm),
            command("cp", "cp SRC DST: copy a file (into DST when it is a directory)", this::cp),
            command("mv", "mv SRC DST: rename (into DST when it is a directory)", this::mv),
            command("stat", "stat PATH...: show file status", this::stat),
            command("mount", "mount [-t TYPE [-o OPTIONS] SOURCE PATH]: list or add mounts", this::mount),
            command("umount", "umount PATH: remove a mount", this::umount),
            command("df", "df [PATH]: filesystem usage", this::df));
    }

    void registerAll(final ConsoleCommands commands) {
        all().forEach(commands::register);
    }

    private static int fail(final PrintStream out, final String cmd, final String what, final long r) {
        final Errno e = Errno.fromResult(r);
        out.println(cmd + ": " + what + ": " + (e == null ? "error " + r : e.message()));
        return 1;
    }

    private static int fail(final PrintStream out, final String cmd, final String what, final ErrnoException e) {
        out.println(cmd + ": " + what + ": " + e.errno().message());
        return 1;
    }

    private static List<String> operands(final List<String> args, final StringBuilder flags) {
        final List<String> ops = new ArrayList<>();
        for (final String a : args) {
            if (a.startsWith("-") && a.length() > 1 && ops.isEmpty()) {
                flags.append(a.substring(1));
            } else {
                ops.add(a);
            }
        }
        return ops;
    }

    private int ls(final List<String> args, final PrintStream out) {
        final StringBuilder flags = new StringBuilder();
        final List<String> paths = operands(args, flags);
        final boolean lng = flags.indexOf("l") >= 0;
        final boolean all = flags.indexOf("a") >= 0;
        if (paths.isEmpty()) {
            paths.add(".");
        }
        int status = 0;
        for (final String path : paths) {
            final Stat st = new Stat();
            final int r = vfs.stat(path, st);
            if (r < 0) {
                status = fail(out, "ls", "cannot access '" + path + "'", r);
                continue;
            }
            if (paths.size() > 1 && st.isDirectory()) {
                out.println(path + ":");
            }
            if (!st.isDirectory()) {
                printEntry(out, path, path, lng);
                continue;
            }
            final int fd = vfs.open(path, Posix.O_RDONLY | Posix.O_DIRECTORY);
            if (fd < 0) {
                status = fail(out, "ls", "cannot open directory '" + path + "'", fd);
                continue;
            }
            final List<Dirent> entries = new ArrayList<>();
            while (vfs.getdents(fd, entries, 256) > 0) {
                // read all
            }
            vfs.close(fd);
            entries.sort(Comparator.comparing(Dirent::name));
            for (final Dirent d : entries) {
                if (!all && d.name().startsWith(".")) {
                    continue;
                }
                printEntry(out, path.endsWith("/") ? path + d.name() : path + "/" + d.name(), d.name(), lng);
            }
        }
        return status;
    }

    private void printEntry(final PrintStream out, final String path, final String shown, final boolean lng) {
        if (!lng) {
            out.println(shown);
            return;
        }
        final Stat st = new Stat();
        if (vfs.lstat(path, st) < 0) {
            out.println("?????????? ? " + shown);
            return;
        }
        String name = shown;
        if (st.isSymlink()) {
            try {
                name += " -> " + vfs.readlink(path);
            } catch (final ErrnoException e) {
                name += " -> ?";
            }
        }
        out.printf("%s %3d %4d %4d %10d %s %s%n", Posix.modeString(st.mode), st.nlink, st.uid, st.gid, st.size,
            TIME.format(Instant.ofEpochSecond(st.mtimeSec)), name);
    }

    private int cat(final List<String> args, final PrintStream out) {
        int status = 0;
        final byte[] buf = new byte[65536];
        for (final String path : args) {
            final int fd = vfs.open(path, Posix.O_RDONLY);
            if (fd < 0) {
                status = fail(out, "cat", path, fd);
                continue;
            }
            while (true) {
                final long n = vfs.read(fd, buf, 0, buf.length);
                if (n < 0) {
                    status = fail(out, "cat", path, n);
                    break;
                }
                if (n == 0) {
                    break;
                }
                out.write(buf, 0, (int)n);
            }
            vfs.close(fd);
        }
        out.flush();
        return status;
    }

    private int mkdir(final List<String> args, final PrintStream out) {
        final StringBuilder flags = new StringBuilder();
        final List<String> paths = operands(args, flags);
        final boolean parents = flags.indexOf("p") >= 0;
        if (paths.isEmpty()) {
            out.println("mkdir: missing operand");
            return 1;
        }
        int status = 0;
        for (final String path : paths) {
            if (parents) {
                final long r = mkdirs(path);
                if (r < 0) {
                    status = fail(out, "mkdir", "cannot create directory '" + path + "'", r);
                }
            } else {
                final int r = vfs.mkdir(path, 0777);
                if (r < 0) {
                    status = fail(out, "mkdir", "cannot create directory '" + path + "'", r);
                }
            }
        }
        return status;
    }

    /** mkdir -p: every missing component, no error when it exists as a directory. */
    long mkdirs(final String path) {
        final StringBuilder prefix = new StringBuilder(path.startsWith("/") ? "/" : "");
        for (final String part : path.split("/")) {
            if (part.isEmpty()) {
                continue;
            }
            prefix.append(part);
            final int r = vfs.mkdir(prefix.toString(), 0777);
            if (r < 0 && Errno.fromResult(r) != Errno.EEXIST) {
                return r;
            }
            prefix.append('/');
        }
        final Stat st = new Stat();
        final int r = vfs.stat(path, st);
        return r < 0 ? r : st.isDirectory() ? 0 : Errno.ENOTDIR.negative();
    }

    private int rm(final List<String> args, final PrintStream out) {
        final StringBuilder flags = new StringBuilder();
        final List<String> paths = operands(args, flags);
        final boolean recursive = flags.indexOf("r") >= 0 || flags.indexOf("R") >= 0;
        final boolean force = flags.indexOf("f") >= 0;
        if (paths.isEmpty() && !force) {
            out.println("rm: missing operand");
            return 1;
        }
        int status = 0;
        for (final String path : paths) {
            final long r = remove(path, recursive);
            if (r < 0 && !(force && Errno.fromResult(r) == Errno.ENOENT)) {
                status = fail(out, "rm", "cannot remove '" + path + "'", r);
            }
        }
        return status;
    }

    private long remove(final String path, final boolean recursive) {
        final Stat st = new Stat();
        final int r = vfs.lstat(path, st);
        if (r < 0) {
            return r;
        }
        if (!st.isDirectory()) {
            return vfs.unlink(path);
        }
        if (!recursive) {
            return Errno.EISDIR.negative();
        }
        try {
            for (final Dirent d : vfs.list(path)) {
                final long sub = remove(path + "/" + d.name(), true);
                if (sub < 0) {
                    return sub;
                }
            }
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
        return vfs.rmdir(path);
    }

    /** DST, or DST/basename(SRC) when DST is a directory. */
    private String target(final String src, final String dst) {
        final Stat st = new Stat();
        if (vfs.stat(dst, st) == 0 && st.isDirectory()) {
            final String base = src.substring(src.lastIndexOf('/', src.endsWith("/") ? src.length() - 2 : src.length() - 1) + 1);
            return dst.endsWith("/") ? dst + base : dst + "/" + base;
        }
        return dst;
    }

    private int cp(final List<String> args, final PrintStream out) {
        if (args.size() != 2) {
            out.println("cp: usage: cp SRC DST");
            return 1;
        }
        final String src = args.get(0);
        final String dst = target(src, args.get(1));
        final int in = vfs.open(src, Posix.O_RDONLY);
        if (in < 0) {
            return fail(out, "cp", "cannot stat '" + src + "'", in);
        }
        try {
            final Stat st = new Stat();
            vfs.fstat(in, st);
            if (st.isDirectory()) {
                out.println("cp: -r not specified; omitting directory '" + src + "'");
                return 1;
            }
            final int o = vfs.open(dst, Posix.O_WRONLY | Posix.O_CREAT | Posix.O_TRUNC, st.mode & 0777);
            if (o < 0) {
                return fail(out, "cp", "cannot create regular file '" + dst + "'", o);
            }
            try {
                final byte[] buf = new byte[65536];
                long n;
                while ((n = vfs.read(in, buf, 0, buf.length)) > 0) {
                    int off = 0;
                    while (off < n) {
                        final long w = vfs.write(o, buf, off, (int)n - off);
                        if (w < 0) {
                            return fail(out, "cp", "error writing '" + dst + "'", w);
                        }
                        off += (int)w;
                    }
                }
                if (n < 0) {
                    return fail(out, "cp", "error reading '" + src + "'", n);
                }
            } finally {
                vfs.close(o);
            }
            return 0;
        } finally {
            vfs.close(in);
        }
    }

    private int mv(final List<String> args, final PrintStream out) {
        if (args.size() != 2) {
            out.println("mv: usage: mv SRC DST");
            return 1;
        }
        final String dst = target(args.get(0), args.get(1));
        final int r = vfs.rename(args.get(0), dst);
        return r < 0 ? fail(out, "mv", "cannot move '" + args.get(0) + "' to '" + dst + "'", r) : 0;
    }

    private int stat(final List<String> args, final PrintStream out) {
        int status = 0;
        for (final String path : args) {
            final Stat st = new Stat();
            final int r = vfs.lstat(path, st);
            if (r < 0) {
                status = fail(out, "stat", "cannot stat '" + path + "'", r);
                continue;
            }
            final String kind = switch (st.mode & Posix.S_IFMT) {
                case Posix.S_IFDIR -> "directory";
                case Posix.S_IFLNK -> "symbolic link";
                case Posix.S_IFCHR -> "character special file";
                case Posix.S_IFBLK -> "block special file";
                case Posix.S_IFIFO -> "fifo";
                case Posix.S_IFSOCK -> "socket";
                default -> st.size == 0 ? "regular empty file" : "regular file";
            };
            out.println("  File: " + path);
            out.printf("  Size: %-15d Blocks: %-10d IO Block: %-6d %s%n", st.size, st.blocks, st.blksize, kind);
            out.printf("Device: %-15d Inode: %-11d Links: %d%n", st.dev, st.ino, st.nlink);
            out.printf("Access: (%04o/%s)  Uid: %d  Gid: %d%n", st.mode & 07777, Posix.modeString(st.mode), st.uid, st.gid);
            out.println("Modify: " + Instant.ofEpochSecond(st.mtimeSec, st.mtimeNsec));
            out.println("Change: " + Instant.ofEpochSecond(st.ctimeSec, st.ctimeNsec));
        }
        return status;
    }

    private int mount(final List<String> args, final PrintStream out) {
        if (args.isEmpty()) {
            for (final Mount m : vfs.mounts()) {
                out.println(m);
            }
            return 0;
        }
        String type = null;
        String options = "";
        final List<String> ops = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            switch (args.get(i)) {
                case "-t" -> type = i + 1 < args.size() ? args.get(++i) : null;
                case "-o" -> options = i + 1 < args.size() ? args.get(++i) : "";
                default -> ops.add(args.get(i));
            }
        }
        if (type == null || ops.size() != 2) {
            out.println("mount: usage: mount -t TYPE [-o OPTIONS] SOURCE PATH (types: "
                + String.join(", ", vfs.fileSystemTypes()) + ")");
            return 1;
        }
        final int r = vfs.mount(type, ops.get(0), ops.get(1), parseOptions(options));
        return r < 0 ? fail(out, "mount", ops.get(1), r) : 0;
    }

    /** {@code size=64M,ro} to a map ({@code ro -> ""}). */
    static Map<String, String> parseOptions(final String options) {
        final Map<String, String> m = new LinkedHashMap<>();
        for (final String o : options.split(",")) {
            final String t = o.trim();
            if (t.isEmpty() || "rw".equals(t) || "defaults".equals(t)) {
                continue;
            }
            final int eq = t.indexOf('=');
            m.put(eq < 0 ? t : t.substring(0, eq), eq < 0 ? "" : t.substring(eq + 1));
        }
        return m;
    }

    private int umount(final List<String> args, final PrintStream out) {
        if (args.size() != 1) {
            out.println("umount: usage: umount PATH");
            return 1;
        }
        final int r = vfs.umount(args.get(0));
        return r < 0 ? fail(out, "umount", args.get(0), r) : 0;
    }

    private int df(final List<String> args, final PrintStream out) {
        out.printf("%-12s %-8s %12s %12s %12s %5s %s%n", "Filesystem", "Type", "1K-blocks", "Used", "Available", "Use%",
            "Mounted on");
        final List<Mount> mounts = new ArrayList<>();
        if (args.isEmpty()) {
            mounts.addAll(vfs.mounts());
        } else {
            for (final String a : args) {
                try {
                    mounts.add(vfs.mountOf(a));
                } catch (final ErrnoException e) {
                    return fail(out, "df", a, e);
                }
            }
        }
        for (final Mount m : mounts) {
            final StatFs s = new StatFs();
            if (vfs.statfs(m.path(), s) < 0) {
                continue;
            }
            final long total = s.blocks * s.bsize / 1024;
            final long free = s.bavail * s.bsize / 1024;
            final long used = Math.max(0, total - s.bfree * s.bsize / 1024);
            final String pct = total == 0 ? "-" : (used * 100 + total - 1) / total + "%";
            out.printf("%-12s %-8s %12d %12d %12d %5s %s%n", m.source(), m.type(), total, used, free, pct, m.path());
        }
        return 0;
    }

    /** The shell's {@code > FILE} / {@code >> FILE}: write a command's output to a file. */
    long redirect(final String file, final byte[] data, final boolean append) {
        final int fd = vfs.open(file, Posix.O_WRONLY | Posix.O_CREAT | (append ? Posix.O_APPEND : Posix.O_TRUNC), 0666);
        if (fd < 0) {
            return fd;
        }
        try {
            return vfs.write(fd, data, 0, data.length);
        } finally {
            vfs.close(fd);
        }
    }
}
