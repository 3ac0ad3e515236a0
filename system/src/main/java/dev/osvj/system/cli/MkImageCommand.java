package dev.osvj.system.cli;

import dev.osvj.vfs.rofs.MkImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code osvj mkimage SRC_DIR IMAGE}: build a rofs image (OSv's read-only format) from a host folder. */
@Command(name = "mkimage", mixinStandardHelpOptions = true,
    description = "Build a rofs image from a host folder (files, directories, symlinks); special files are refused.")
final class MkImageCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SRC_DIR", description = "The folder to put in the image.")
    Path source;

    @Parameters(index = "1", paramLabel = "IMAGE", description = "The image file to write.")
    Path image;

    @Override
    public Integer call() {
        return MkImage.run(new String[] {source.toString(), image.toString()}, System.out, System.err, System.console() != null);
    }
}
