package dev.osvj.system.app.httpd;

/**
 * A request the server refuses: the status to answer and a one-line reason that becomes the body.
 * Thrown by the parser and the handlers, caught by the connection, which answers it and (for parse
 * errors) closes; never leaves the server.
 */
class HttpException extends Exception {
    private final int status;

    HttpException(final int status, final String reason) {
        super(reason, null, false, false);
        this.status = status;
    }

    int status() {
        return status;
    }
}
