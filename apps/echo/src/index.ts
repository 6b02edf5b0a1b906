/**
 * tcp-tun-echo as a library: the services and the option parser, importable so other programs
 * and tests can run the same services over any `Stack` (a TUN device or an in-memory link).
 */
export {
  startService, applyLiveness, httpHandler, patternByte, SERVICE_NAMES, DEFAULT_PORTS,
  type Service, type ServiceName, type ServiceOptions,
} from './services.js';
export { parseEchoOptions, servicePorts, type EchoOptions } from './options.js';
export { renderMetrics, METRICS_CONTENT_TYPE, type DeviceCounters } from './metrics.js';
