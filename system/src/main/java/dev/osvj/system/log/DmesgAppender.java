package dev.osvj.system.log;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import dev.osvj.kernel.log.KernelLog;

/**
 * Logback appender that puts log lines into the kernel log ring ({@code dmesg}) of the kernel instance
 * they came from: Pekko tags actor log lines with the ActorSystem's name (MDC {@code sourceActorSystem}),
 * which is the kernel's name; other lines go to the only running kernel, or nowhere when there are
 * several and the line does not say which.
 */
public final class DmesgAppender extends AppenderBase<ILoggingEvent> {
    @Override
    protected void append(final ILoggingEvent event) {
        final KernelLog log = KernelLog.lookup(event.getMDCPropertyMap().get("sourceActorSystem"));
        if (log == null) {
            return;
        }
        String source = event.getLoggerName();
        final int dot = source.lastIndexOf('.');
        if (dot >= 0) {
            source = source.substring(dot + 1);
        }
        String message = event.getFormattedMessage();
        if (event.getThrowableProxy() != null) {
            message += ": " + event.getThrowableProxy().getClassName() + ": " + event.getThrowableProxy().getMessage();
        }
        log.append(event.getLevel().toString(), source, message);
    }
}
