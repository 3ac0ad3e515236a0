package dev.osvj.vfs.rofs;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The rofs image builder: {@code mkimage SRC_DIR IMAGE} ({@code bin/osvj mkimage}) writes the host
 * folder {@code SRC_DIR} as an image in OSv's rofs format ({@link RofsFormat}), laid out as OSv's
 * {@code gen-rofs-img.py} lays it out: superblock, file data in inode order, then directory entries,
 * symlinks and inodes. Entries are sorted by name, so the same folder always gives the same image.
 *
 * <p>Regular files, directories and symbolic links (stored as links, never followed) go in; hard links
 * become separate copies. Anything else (FIFOs, sockets, device nodes) is refused with a message
 * naming the path, before the image is written. On a terminal a progress bar shows the bytes copied;
 * the last line is a summary. Exit status: 0 done, 1 refused or failed, 2 usage.
 */
public final class MkImage {
    /** What a build produced. */
    public record Summary(long files, long directories, long symlinks, long dataBytes, long imageBytes) {
        public String line(final Path image) {
            return String.format("mkimage: wrote %s: %d files, %d directories, %d symlinks, %d bytes of data; image %d bytes (%d blocks)",
                image, files, directories, symlinks, dataBytes, imageBytes, imageBytes / RofsFormat.BLOCK_SIZE);
        }
    }

    /** A refusal with a message for the user (special file, unreadable source...). */
    public static final class MkImageException extends Exception {
        public MkImageException(final String message) {
            super(message, null, false, false);
        }
    }

    /** Progress callback: bytes of file data copied so far out of the total. */
    @FunctionalInterface
    public interface Progress {
        void update(long done, long total);
    }

    private enum Kind { DIR, FILE, LINK }

    private static final class Node {
        final String name;
        final Path host;
        final Kind kind;
        final long size;
        final String target;
        final List<Node> children = new ArrayList<>();
        long inode;
        long dataOffset;
        long count;

        Node(final String name, final Path host, final Kind kind, final long size, final String target) {
            this.name = name;
            this.host = host;
            this.kind = kind;
            this.size = size;
            this.target = target;
        }
    }

    private MkImage() {
    }

    public static void main(final String[] args) {
        System.exit(run(args, System.out, System.err, System.console() != null));
    }

    /** The command line, with its streams and whether stderr is a terminal (for the progress bar). */
    public static int run(final String[] args, final PrintStream out, final PrintStream err, final boolean tty) {
        if (args.length == 1 && ("-h".equals(args[0]) || "--help".equals(args[0]))) {
            usage(out);
            return 0;
        }
        if (args.length != 2) {
            usage(err);
            return 2;
        }
        final Path src = Path.of(args[0]);
        final Path image = Path.of(args[1]);
        final ProgressBar bar = tty ? new ProgressBar(err) : null;
        try {
            final Summary s = build(src, image, bar == null ? (d, t) -> {
            } : bar);
            if (bar != null) {
                bar.finish();
            }
            out.println(s.line(image));
            return 0;
        } catch (final MkImageException e) {
            if (bar != null) {
                bar.finish();
            }
            err.println("mkimage: " + e.getMessage());
            return 1;
        } catch (final IOException e) {
            if (bar != null) {
                bar.finish();
            }
            err.println("mkimage: " + e);
            return 1;
        }
    }

    private static void usage(final PrintStream out) {
        out.println("usage: osvj mkimage SRC_DIR IMAGE");
        out.println("  Build a read-only rofs image (OSv's format) from the host folder SRC_DIR.");
        out.println("  Holds regular files, directories and symbolic links; refuses other file types.");
    }

    /**
     * Build {@code image} from {@code src}. The image is written to a temporary file beside it and
     * moved into place at the end, so a refused build leaves no partial image.
     */
    public static Summary build(final Path src, final Path image, final Progress progress)
        throws IOException, MkImageException {
        if (!Files.isDirectory(src, LinkOption.NOFOLLOW_LINKS)) {
            throw new MkImageException(src + " is not a directory");
        }
        final long[] totals = new long[4];
        final Node root = scan(src, "", totals);
        final Path parent = image.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        final Path tmp = Files.createTempFile(parent, image.getFileName().toString(), ".part");
        try {
            final long size = write(root, tmp, totals[3], progress);
            Files.move(tmp, image, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            return new Summary(totals[0], totals[1], totals[2], totals[3], size);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Walk the source; totals: files, directories (without the root), symlinks, data bytes. */
    private static Node scan(final Path dir, final String name, final long[] totals) throws IOException, MkImageException {
        final Node node = new Node(name, dir, Kind.DIR, 0, null);
        final List<Path> entries;
        try (Stream<Path> list = Files.list(dir)) {
            entries = list.sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        } catch (final java.nio.file.AccessDeniedException e) {
            throw new MkImageException("cannot read directory " + dir + ": permission denied");
        }
        for (final Path p : entries) {
            final String child = p.getFileName().toString();
            if (child.getBytes(StandardCharsets.UTF_8).length > 0xFFFF) {
                throw new MkImageException(p + ": name too long for rofs");
            }
            final BasicFileAttributes attrs;
            try {
                attrs = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            } catch (final NoSuchFileException e) {
                continue; // removed while we were scanning
            }
            if (attrs.isSymbolicLink()) {
                final String target = Files.readSymbolicLink(p).toString();
                node.children.add(new Node(child, p, Kind.LINK, 0, target));
                totals[2]++;
            } else if (attrs.isDirectory()) {
                node.children.add(scan(p, child, totals));
                totals[1]++;
            } else if (attrs.isRegularFile()) {
                node.children.add(new Node(child, p, Kind.FILE, attrs.size(), null));
                totals[0]++;
                totals[3] += attrs.size();
            } else {
                throw new MkImageException("refusing " + p + ": it is a " + describeSpecial(p)
                    + "; rofs images hold only regular files, directories and symbolic links (remove it or build from a copy without it)");
            }
        }
        return node;
    }

    private static String describeSpecial(final Path p) {
        try {
            final PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            final Object mode = Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            if (mode instanceof Integer m) {
                return switch (m & 0170000) {
                    case 0010000 -> "FIFO (named pipe)";
                    case 0140000 -> "socket";
                    case 0020000 -> "character device";
                    case 0060000 -> "block device";
                    default -> "special file";
                };
            }
            return a.isOther() ? "special file" : "file of an unsupported type";
        } catch (final IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "special file";
        }
    }

    /** The writer's state: as gen-rofs-img.py's globals. */
    private static final class Writer {
        final FileChannel ch;
        final long totalData;
        final Progress progress;
        long block = 1;
        long copied;
        long nextInode = 1;
        final List<Node> inodes = new ArrayList<>();
        final List<Node> direntNodes = new ArrayList<>();
        final List<String> symlinks = new ArrayList<>();
        final byte[] buf = new byte[1 << 20];

        Writer(final FileChannel ch, final long totalData, final Progress progress) {
            this.ch = ch;
            this.totalData = totalData;
            this.progress = progress;
        }

        Node inode(final Node n) {
            n.inode = nextInode++;
            inodes.add(n);
            return n;
        }

        void dir(final Node dir) throws IOException, MkImageException {
            for (final Node child : dir.children) {
                inode(child);
                switch (child.kind) {
                    case DIR -> dir(child);
                    case LINK -> {
                        child.dataOffset = symlinks.size();
                        child.count = 1;
                        if (child.target.getBytes(StandardCharsets.UTF_8).length > 0xFFFF) {
                            throw new MkImageException(child.host + ": symlink target too long for rofs");
                        }
                        symlinks.add(child.target);
                    }
                    case FILE -> {
                        child.dataOffset = block;
                        child.count = copy(child.host);
                    }
                }
            }
            dir.dataOffset = direntNodes.size();
            dir.count = dir.children.size();
            direntNodes.addAll(dir.children);
        }

        /** Copy one file at the current block, padded to 512; returns its size in bytes. */
        long copy(final Path file) throws IOException, MkImageException {
            long total = 0;
            try (InputStream in = Files.newInputStream(file)) {
                int n;
                while ((n = in.readNBytes(buf, 0, buf.length)) > 0) {
                    ch.write(ByteBuffer.wrap(buf, 0, n));
                    total += n;
                    copied += n;
                    progress.update(copied, totalData);
                }
            } catch (final java.nio.file.AccessDeniedException e) {
                throw new MkImageException("cannot read " + file + ": permission denied");
            }
            final int tail = (int)(total % RofsFormat.BLOCK_SIZE);
            if (tail != 0) {
                ch.write(ByteBuffer.allocate(RofsFormat.BLOCK_SIZE - tail));
            }
            block += (total + RofsFormat.BLOCK_SIZE - 1) / RofsFormat.BLOCK_SIZE;
            return total;
        }
    }

    private static long write(final Node root, final Path out, final long totalData, final Progress progress)
        throws IOException, MkImageException {
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(ByteBuffer.allocate(RofsFormat.BLOCK_SIZE));
            final Writer w = new Writer(ch, totalData, progress);
            w.inode(root);
            w.dir(root);
            final long structureFirst = w.block;
            final java.io.ByteArrayOutputStream area = new java.io.ByteArrayOutputStream();
            final ByteBuffer scratch = ByteBuffer.allocate(RofsFormat.INODE_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
            for (final Node n : w.direntNodes) {
                final byte[] name = n.name.getBytes(StandardCharsets.UTF_8);
                scratch.clear();
                scratch.putLong(n.inode).putShort((short)name.length);
                area.write(scratch.array(), 0, scratch.position());
                area.write(name);
            }
            for (final String s : w.symlinks) {
                final byte[] path = s.getBytes(StandardCharsets.UTF_8);
                scratch.clear();
                scratch.putShort((short)path.length);
                area.write(scratch.array(), 0, scratch.position());
                area.write(path);
            }
            for (final Node n : w.inodes) {
                scratch.clear();
                final long mode = switch (n.kind) {
                    case DIR -> RofsFormat.MODE_DIR;
                    case FILE -> RofsFormat.MODE_FILE;
                    case LINK -> RofsFormat.MODE_SYMLINK;
                };
                scratch.putLong(mode).putLong(n.inode).putLong(n.dataOffset).putLong(n.count);
                area.write(scratch.array(), 0, RofsFormat.INODE_LENGTH);
            }
            final int bytes = area.size();
            final int blocks = (bytes + RofsFormat.BLOCK_SIZE - 1) / RofsFormat.BLOCK_SIZE;
            final ByteBuffer structure = ByteBuffer.allocate(Math.max(1, blocks) * RofsFormat.BLOCK_SIZE);
            structure.put(area.toByteArray()).clear();
            ch.write(structure);
            final ByteBuffer sb = ByteBuffer.allocate(RofsFormat.BLOCK_SIZE);
            new RofsFormat.SuperBlock(RofsFormat.MAGIC, RofsFormat.VERSION, RofsFormat.BLOCK_SIZE, structureFirst,
                Math.max(1, blocks), w.direntNodes.size(), w.symlinks.size(), w.inodes.size()).write(sb);
            ch.write(sb, 0);
            ch.force(true);
            return ch.size();
        }
    }

    /** A one-line progress bar redrawn with carriage returns, only when the shown percentage changes. */
    static final class ProgressBar implements Progress {
        private static final int WIDTH = 40;
        private final PrintStream err;
        private int shown = -1;

        ProgressBar(final PrintStream err) {
            this.err = err;
        }

        @Override
        public void update(final long done, final long total) {
            final int pct = total <= 0 ? 100 : (int)Math.min(100, done * 100 / total);
            if (pct == shown) {
                return;
            }
            shown = pct;
            final int fill = pct * WIDTH / 100;
            err.print("\rmkimage [" + "#".repeat(fill) + ".".repeat(WIDTH - fill) + "] " + String.format("%3d%%", pct)
                + String.format(" %.1f/%.1f MiB", done / 1048576.0, total / 1048576.0));
            err.flush();
        }

        void finish() {
            if (shown >= 0) {
                err.println();
            }
        }
    }
}
