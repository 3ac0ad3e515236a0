package dev.osvj.kernel;

import org.apache.pekko.actor.typed.javadsl.ActorContext;

/** The kernel context during a boot phase, plus the subsystem supervisor's actor context. */
public interface BootContext extends KernelContext {
    /** The supervisor's actor context: spawn the subsystem's actors as its children. */
    ActorContext<?> actorContext();

    /** Print one boot message on the console and into dmesg ("VFS: mounting ramfs at /"). */
    void note(String message);
}
