/**
 * The {@code java} application: runs a Java program's {@code main} from JARs and directories in the
 * VFS, as OSv's {@code java.so} does ({@link dev.osvj.system.app.java.JavaApplication}).
 */
package dev.osvj.system.app.java;
