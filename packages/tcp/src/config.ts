/**
 * Engine configuration: defaults and validation. The defaults follow the RFCs and Linux where
 * the RFCs leave a choice; every value is validated once here so the engine never re-checks.
 */
import { ipTcpOverhead, type IpFamily } from './address.js';
import { TcpUsageError } from './errors.js';
import type { TcpConfig } from './types.js';

/** Largest window the raw 16-bit field can carry (RFC 9293 §3.1; more needs RFC 7323 scaling). */
export const MAX_UNSCALED_WINDOW = 65535;
/** Largest window scale shift (RFC 7323 §2.3). */
export const MAX_WINDOW_SCALE = 14;

/**
 * Defaults:
 * - `mss` 1460: an Ethernet-sized MTU of 1500 − 40 octets of IPv4 and TCP headers.
 * - `recvBufferSize` and `sendBufferSize` 256 KiB: 256 MB/s at 1 ms RTT, 2.5 MB/s at 100 ms.
 *   Larger (up to 1 GiB, e.g. 4–16 MiB for long fat paths) is one option away; the default stays
 *   moderate because the socket layer's flow control (a reader that stops reading closes the
 *   window) bounds what one connection may hold by it. Both buffers are allocated lazily, grow
 *   on demand and are released when empty, so the size is a ceiling, not a cost. The send
 *   buffer takes at most about twice the congestion window of it (`sendBufferAutoSize`, as
 *   Linux's send-buffer autotuning).
 * - `windowScale` -1: the smallest shift covering `recvBufferSize` (3 for 256 KiB, 7 for 4 MiB).
 * - RTO 1 s initial, 200 ms floor (Linux's; RFC 6298 §2.4 says 1 s SHOULD, and allows less),
 *   60 s ceiling (RFC 6298 §2.5).
 * - `maxRetransmits` 15 and `synRetries` 6, like Linux's tcp_retries2 and tcp_syn_retries.
 * - `timeWaitMs` 60 s and `finWait2TimeoutMs` 60 s like Linux (RFC 9293 §3.3.2 asks 2·MSL = 4 min;
 *   the 4-tuple reuse this guards against is rare with random ephemeral ports).
 * - `delayedAckMs` 40: Linux's minimum delayed-ACK time. RFC 1122 §4.2.3.2 allows up to 500 ms
 *   and RFC 5681 §4.2 asks for an ACK at least every second full-sized segment; 40 ms keeps the
 *   Nagle/delayed-ACK stall short while still letting a reply within the same turn carry the ACK.
 * - `maxOutOfOrderBytes` 1 GiB: in effect "as much as the receive buffer holds", which SACK needs.
 * - SACK, timestamps, window scaling and ECN on; CUBIC; Nagle on (`noDelay` false, as Node).
 * - `sendQuantum` 0: no send deferral for super-packets. A caller with a GSO link may set it to
 *   the link's train size (Linux's `tcp_tso_should_defer` acts on the device's TSO size);
 *   @tcp-tun/net leaves it 0, as it measured slower there with 128 KiB trains.
 */
export const DEFAULT_TCP_CONFIG: TcpConfig = Object.freeze({
  mss: 1460,
  recvBufferSize: 256 * 1024,
  sendBufferSize: 256 * 1024,
  sendBufferAutoSize: true,
  rtoInitialMs: 1000,
  rtoMinMs: 200,
  rtoMaxMs: 60_000,
  maxRetransmits: 15,
  synRetries: 6,
  timeWaitMs: 60_000,
  finWait2TimeoutMs: 60_000,
  delayedAckMs: 40,
  maxOutOfOrderBytes: 1 << 30,
  windowScale: -1,
  windowScaling: true,
  sack: true,
  timestamps: true,
  ecn: true,
  congestionControl: 'cubic',
  noDelay: false,
  // RFC 1122 §4.2.3.6: at least two hours of idleness before keepalive probes (Linux: 7200/75/9).
  keepAliveIdleMs: 7_200_000,
  keepAliveIntervalMs: 75_000,
  keepAliveProbes: 9,
  userTimeoutMs: 0,
  // RFC 5961 §7 leaves the numbers open; Linux's per-socket default is 10 per second-ish.
  challengeAckLimit: 10,
  challengeAckWindowMs: 1000,
  sendQuantum: 0,
});

type NumericKey = { [K in keyof TcpConfig]: TcpConfig[K] extends number ? K : never }[keyof TcpConfig];
type BooleanKey = { [K in keyof TcpConfig]: TcpConfig[K] extends boolean ? K : never }[keyof TcpConfig];

/** Inclusive integer bounds of each numeric field. */
const BOUNDS: Record<NumericKey, readonly [number, number]> = {
  // 64 is far below any real link; 65495 = 65535 − 40 (the largest IPv4 datagram's payload).
  mss: [64, 65495],
  // 1 GiB is the most a window scale of 14 can advertise (RFC 7323 §2.3).
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
  windowScale: [-1, MAX_WINDOW_SCALE],
  keepAliveIdleMs: [1, 0x7fffffff],
  keepAliveIntervalMs: [1, 0x7fffffff],
  keepAliveProbes: [1, 1000],
  userTimeoutMs: [0, 0x7fffffff],
  challengeAckLimit: [0, 1_000_000],
  challengeAckWindowMs: [1, 3_600_000],
  // 0 = no super-packets; 1 MiB is above any GSO train (Linux's legacy GSO limit is 64 KiB,
  // BIG TCP's 512 KiB).
  sendQuantum: [0, 1 << 20],
};
const BOOLEANS: readonly BooleanKey[] = ['windowScaling', 'sack', 'timestamps', 'ecn', 'noDelay', 'sendBufferAutoSize'];
const CONGESTION_CONTROLS: readonly string[] = ['cubic', 'newreno'];
const KEYS: readonly string[] = Object.keys(DEFAULT_TCP_CONFIG);

/** Configs this module produced (frozen, validated): passed again, they are returned as they are. */
const RESOLVED = new WeakSet<object>();
RESOLVED.add(DEFAULT_TCP_CONFIG);

function invalid(message: string): TcpUsageError {
  return new TcpUsageError('ERR_INVALID_ARG_VALUE', message);
}

/**
 * The window scale shift for `config` (RFC 7323 §2.3): the configured one, or with -1 the
 * smallest shift s such that `recvBufferSize >> s` fits the 16-bit field.
 */
export function chooseWindowScale(config: TcpConfig): number {
  if (config.windowScale >= 0) return config.windowScale;
  let s = 0;
  while (s < MAX_WINDOW_SCALE && config.recvBufferSize > MAX_UNSCALED_WINDOW * 2 ** s) s++;
  return s;
}

/**
 * Merges `partial` over {@link DEFAULT_TCP_CONFIG} and validates the result. Fields set to
 * `undefined` take their default. Throws a {@link TcpUsageError} with code
 * `ERR_INVALID_ARG_VALUE` on an unknown key, a value of the wrong type, a number that is not an
 * integer or out of range, or inconsistent RTO bounds (`rtoMinMs <= rtoInitialMs <= rtoMaxMs`).
 * A config this function returned is returned again as is (no copy per connection).
 */
export function resolveTcpConfig(partial?: Partial<TcpConfig>): TcpConfig {
  if (partial === undefined) return DEFAULT_TCP_CONFIG;
  if (partial === null || typeof partial !== 'object') throw invalid('TCP config must be an object');
  if (RESOLVED.has(partial)) return partial as TcpConfig;
  const out: Record<string, unknown> = { ...DEFAULT_TCP_CONFIG };
  for (const key of Object.keys(partial)) {
    if (!KEYS.includes(key)) throw invalid(`unknown TCP config option '${key}'`);
    const value = (partial as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if ((BOOLEANS as readonly string[]).includes(key)) {
      if (typeof value !== 'boolean') throw invalid(`TCP config '${key}' must be a boolean, got ${String(value)}`);
    } else if (key === 'congestionControl') {
      if (typeof value !== 'string' || !CONGESTION_CONTROLS.includes(value)) {
        throw invalid(`TCP config 'congestionControl' must be one of ${CONGESTION_CONTROLS.join(', ')}, got ${String(value)}`);
      }
    } else {
      const [lo, hi] = BOUNDS[key as NumericKey];
      if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) {
        throw invalid(`TCP config '${key}' must be an integer in [${lo}, ${hi}], got ${String(value)}`);
      }
    }
    out[key] = value;
  }
  const cfg = out as unknown as TcpConfig;
  if (cfg.rtoMinMs > cfg.rtoMaxMs) throw invalid(`rtoMinMs (${cfg.rtoMinMs}) exceeds rtoMaxMs (${cfg.rtoMaxMs})`);
  if (cfg.rtoInitialMs < cfg.rtoMinMs || cfg.rtoInitialMs > cfg.rtoMaxMs) {
    throw invalid(`rtoInitialMs (${cfg.rtoInitialMs}) must lie in [rtoMinMs, rtoMaxMs]`);
  }
  Object.freeze(cfg);
  RESOLVED.add(cfg);
  return cfg;
}

/** IPv6 configs derived by {@link configForFamily}, by the config they came from. */
const IPV6_CONFIGS = new WeakMap<TcpConfig, TcpConfig>();
/** Configs that are already IPv6 derivations (deriving again returns them as they are). */
const DERIVED = new WeakSet<TcpConfig>();

/**
 * The configuration a connection of `family` runs with. `TcpConfig.mss` is stated for IPv4
 * (link MTU − 40); IPv6 headers are 20 octets longer (RFC 8200 §8.3: MSS = MTU − 60), so an IPv6
 * connection gets `mss − 20` (never below 64). IPv4 gets `config` itself. The IPv6 config is made
 * once per config and reused, is frozen and resolved, and deriving from it again returns it
 * unchanged (so a connection's own `config` can be passed on). `TcpConnection` applies this
 * itself: callers pass the same config for both families.
 */
export function configForFamily(config: TcpConfig, family: IpFamily): TcpConfig {
  if (family === 4 || DERIVED.has(config)) return config;
  let derived = IPV6_CONFIGS.get(config);
  if (derived === undefined) {
    const mss = Math.max(BOUNDS.mss[0], config.mss - (ipTcpOverhead(6) - ipTcpOverhead(4)));
    derived = Object.freeze({ ...config, mss });
    RESOLVED.add(derived);
    DERIVED.add(derived);
    IPV6_CONFIGS.set(config, derived);
  }
  return derived;
}
