/**
 * The built-in HTTP server ({@code osvj.app.name = httpd}): HTTP/1.1 with keep-alive and pipelining
 * over the kernel's sockets, static files from the VFS, and the management REST API modelled on OSv's
 * httpserver-api with a dashboard. {@link dev.osvj.system.app.httpd.HttpdApplication} lists the options.
 */
package dev.osvj.system.app.httpd;
