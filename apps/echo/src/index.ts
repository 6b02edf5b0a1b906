/**
 * tcp-tun-echo: the echo service and its option parser, importable so other programs and
 * tests can run the same service over any `Stack` (a TUN device or an in-memory link).
 */
export { startEcho, type EchoService } from './echo.js';
export { parseEchoOptions, type EchoOptions } from './options.js';
