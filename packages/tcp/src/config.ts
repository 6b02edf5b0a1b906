/**
 * Engine configuration: defaults and validation. The defaults follow the RFCs and Linux where
 * the RFCs leave a choice; every value is validated once here so the engine never re-checks.
 */
import { TcpUsageError } from './errors.js';
import type { TcpConfig } from './types.js';

/** Largest window the raw 16-bit field can carry; we offer no window scaling (RFC 7323) yet. */
export const MAX_UNSCALED_WINDOW = 65535;

/**
 * Defaults:
 * - `mss` 1460: an Ethernet-sized MTU of 1500 − 40 octets of IPv4 and TCP headers.
 * - `recvBufferSize` 65535: the most an unscaled window can advertise.
 * - RTO 1 s initial, 200 ms floor (Linux's; RFC 6298 §2.4 says 1 s SHOULD, and allows less),
 *   60 s ceiling (RFC 6298 §2.5).
 * - `maxRetransmits` 15 and `synRetries` 6, like Linux's tcp_retries2 and tcp_syn_retries.
 * - `timeWaitMs` 60 s and `finWait2TimeoutMs` 60 s like Linux (RFC 9293 §3.3.2 asks 2·MSL = 4 min;
 *   the 4-tuple reuse this guards against is rare with random ephemeral ports).
 * - `delayedAckMs` 0: acknowledge at the end of each input batch (coalescing is done by the drain).
 */
export const DEFAULT_TCP_CONFIG: TcpConfig = Object.freeze({
  mss: 1460,
  recvBufferSize: 65535,
  sendBufferSize: 256 * 1024,
  rtoInitialMs: 1000,
  rtoMinMs: 200,
  rtoMaxMs: 60_000,
  maxRetransmits: 15,
  synRetries: 6,
  timeWaitMs: 60_000,
  finWait2TimeoutMs: 60_000,
  delayedAckMs: 0,
  maxOutOfOrderBytes: 65535,
});

const KEYS = Object.keys(DEFAULT_TCP_CONFIG) as (keyof TcpConfig)[];

/** Inclusive integer bounds of each field. */
const BOUNDS: Record<keyof TcpConfig, readonly [number, number]> = {
  // 64 is far below any real link; 65495 = 65535 − 40 (the largest IPv4 datagram's payload).
  mss: [64, 65495],
  recvBufferSize: [1, 1 << 30],
  sendBufferSize: [1, 1 << 30],
  rtoInitialMs: [1, 3_600_000],
  rtoMinMs: [1, 3_600_000],
  rtoMaxMs: [1, 3_600_000],
  maxRetransmits: [0, 1000],
  synRetries: [0, 1000],
  timeWaitMs: [0, 3_600_000],
  finWait2TimeoutMs: [0, 3_600_000],
  // RFC 1122 §4.2.3.2: an ACK must not be delayed by 500 ms or more.
  delayedAckMs: [0, 499],
  maxOutOfOrderBytes: [0, 1 << 30],
};

function invalid(message: string): TcpUsageError {
  return new TcpUsageError('ERR_INVALID_ARG_VALUE', message);
}

/**
 * Merges `partial` over {@link DEFAULT_TCP_CONFIG} and validates the result. Fields set to
 * `undefined` take their default. Throws a {@link TcpUsageError} with code
 * `ERR_INVALID_ARG_VALUE` on an unknown key, a non-integer, a value out of range, or
 * inconsistent RTO bounds (`rtoMinMs <= rtoInitialMs <= rtoMaxMs` is required).
 */
export function resolveTcpConfig(partial?: Partial<TcpConfig>): TcpConfig {
  if (partial === undefined) return DEFAULT_TCP_CONFIG;
  if (partial === null || typeof partial !== 'object') throw invalid('TCP config must be an object');
  const out: Record<string, number> = { ...DEFAULT_TCP_CONFIG };
  for (const key of Object.keys(partial)) {
    if (!(KEYS as string[]).includes(key)) throw invalid(`unknown TCP config option '${key}'`);
    const value = (partial as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const [lo, hi] = BOUNDS[key as keyof TcpConfig];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) {
      throw invalid(`TCP config '${key}' must be an integer in [${lo}, ${hi}], got ${String(value)}`);
    }
    out[key] = value;
  }
  const cfg = out as unknown as TcpConfig;
  if (cfg.rtoMinMs > cfg.rtoMaxMs) throw invalid(`rtoMinMs (${cfg.rtoMinMs}) exceeds rtoMaxMs (${cfg.rtoMaxMs})`);
  if (cfg.rtoInitialMs < cfg.rtoMinMs || cfg.rtoInitialMs > cfg.rtoMaxMs) {
    throw invalid(`rtoInitialMs (${cfg.rtoInitialMs}) must lie in [rtoMinMs, rtoMaxMs]`);
  }
  return Object.freeze(cfg);
}
