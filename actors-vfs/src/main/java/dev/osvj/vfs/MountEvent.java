package dev.osvj.vfs;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** Tracepoint {@code osvj.vfs.Mount}: one boot-time mount, with its outcome. Control path only. */
@Name("osvj.vfs.Mount")
@Label("VFS mount")
@Category({"osvj", "vfs"})
@Description("A filesystem mounted at boot; the duration is the mount's.")
public final class MountEvent extends jdk.jfr.Event {
    @Label("Type")
    public String type;

    @Label("Source")
    public String source;

    @Label("Path")
    public String path;

    @Label("Result")
    public String result;
}
