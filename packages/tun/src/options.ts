/**
 * The options of `openTun`, validated once into a plain resolved object so the set-up code never
 * sees a missing or malformed value. Addresses become uint32 numbers here.
 */
import { invalidArg } from './errors.js';

/** Options of {@link openTun}. All are optional. */
export interface TunOptions {
  /**
   * Interface name, at most 15 bytes (IFNAMSIZ - 1). A name that exists is attached to, any
   * other is created. A `%d` in it lets the kernel pick a number (`'tun%d'`). Default `'tun0'`.
   */
  name?: string;
  /** IPv4 address of the kernel's side of the interface, dotted quad (e.g. `'10.0.0.1'`). */
  address?: string;
  /** IPv4 address of the far (our) end of the point-to-point link (e.g. `'10.0.0.2'`). */
  peer?: string;
  /**
   * Netmask length in bits, 0..32. Default: the kernel's /32 for a point-to-point address when
   * `peer` is given (a host route to the peer), otherwise 24.
   */
  prefixLength?: number;
  /** MTU in octets, 68..65535 (RFC 791 minimum and the IPv4 maximum). Default 1500. */
  mtu?: number;
  /** Length of the kernel's transmit queue towards us, in packets. Default: the kernel's (500). */
  txQueueLen?: number;
  /** Bring the interface up. Default `true` when `address` is given, else `false`. */
  up?: boolean;
  /**
   * Turn IPv6 off on the interface (before it goes up) so the kernel sends no router
   * solicitations or other IPv6 into the device. Default `true`.
   */
  disableIpv6?: boolean;
  /** Most packets read per event-loop turn and per receiver call, 1..4096. Default 256. */
  readBatch?: number;
}

/** {@link TunOptions} after validation, with defaults filled in. */
export interface ResolvedTunOptions {
  readonly name: string;
  /** Kernel-side address as uint32, or undefined to leave addressing alone. */
  readonly address: number | undefined;
  /** Peer address as uint32, or undefined. */
  readonly peer: number | undefined;
  /** Netmask length to set, or undefined to keep the kernel's choice. */
  readonly prefixLength: number | undefined;
  readonly mtu: number;
  readonly txQueueLen: number | undefined;
  readonly up: boolean;
  readonly disableIpv6: boolean;
  readonly readBatch: number;
}

/** Bytes in a Linux interface name including the terminating NUL (`IFNAMSIZ`). */
export const IFNAMSIZ = 16;
/** Smallest MTU an IPv4 link may have (RFC 791 §3.2: every module must forward 68 octets). */
export const MIN_MTU = 68;
/** Largest IPv4 packet (the 16-bit Total Length field, RFC 791 §3.1). */
export const MAX_MTU = 65535;

const KNOWN_OPTIONS = new Set([
  'name', 'address', 'peer', 'prefixLength', 'mtu', 'txQueueLen', 'up', 'disableIpv6', 'readBatch',
]);

/**
 * Parses a dotted-quad IPv4 address into a uint32, or returns undefined. Leading zeros are
 * refused because inet_aton would read them as octal.
 */
export function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (m === null) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i] ?? '';
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const byte = Number(part);
    if (byte > 255) return undefined;
    value = value * 256 + byte;
  }
  return value >>> 0;
}

/** Formats a uint32 IPv4 address as a dotted quad. */
export function formatIpv4(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
}

/**
 * Checks an interface name as the kernel's `dev_valid_name()` does: 1..15 bytes, not `.` or
 * `..`, no `/`, `:` or whitespace. We also insist on printable ASCII so the name round-trips.
 */
function validName(name: string): boolean {
  if (name.length === 0 || name.length > IFNAMSIZ - 1) return false;
  if (name === '.' || name === '..') return false;
  return /^[\x21-\x7e]+$/.test(name) && !/[/:]/.test(name);
}

function integerIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArg(name, value, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function address(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const parsed = typeof value === 'string' ? parseIpv4(value) : undefined;
  if (parsed === undefined) throw invalidArg(name, value, 'must be an IPv4 address in dotted-quad form');
  return parsed;
}

function boolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidArg(name, value, 'must be a boolean');
  return value;
}

/** Validates `options` and fills in defaults; throws `ERR_INVALID_ARG_VALUE` on a bad one. */
export function resolveOptions(options: TunOptions = {}): ResolvedTunOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidArg('options', options, 'must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw invalidArg(key, (options as Record<string, unknown>)[key], 'is not a known option');
  }
  const name = options.name ?? 'tun0';
  if (typeof name !== 'string' || !validName(name)) {
    throw invalidArg('name', name, `must be 1 to ${IFNAMSIZ - 1} printable ASCII bytes without '/', ':' or spaces`);
  }
  const addr = address('address', options.address);
  const peer = address('peer', options.peer);
  if (peer !== undefined && addr === undefined) {
    throw invalidArg('peer', options.peer, "needs 'address' as well");
  }
  let prefixLength: number | undefined;
  if (options.prefixLength !== undefined) {
    if (addr === undefined) throw invalidArg('prefixLength', options.prefixLength, "needs 'address' as well");
    prefixLength = integerIn('prefixLength', options.prefixLength, 0, 32);
  } else if (addr !== undefined && peer === undefined) {
    prefixLength = 24;
  }
  const mtu = options.mtu === undefined ? 1500 : integerIn('mtu', options.mtu, MIN_MTU, MAX_MTU);
  const txQueueLen = options.txQueueLen === undefined ? undefined : integerIn('txQueueLen', options.txQueueLen, 0, 0x7fffffff);
  const readBatch = options.readBatch === undefined ? 256 : integerIn('readBatch', options.readBatch, 1, 4096);
  return {
    name,
    address: addr,
    peer,
    prefixLength,
    mtu,
    txQueueLen,
    up: boolean('up', options.up, addr !== undefined),
    disableIpv6: boolean('disableIpv6', options.disableIpv6, true),
    readBatch,
  };
}
