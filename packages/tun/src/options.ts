/**
 * The options of `openTun`, validated once into a plain resolved object so the set-up code never
 * sees a missing or malformed value. Addresses become uint32 numbers here.
 */
import { invalidArg } from './errors.js';
import { ipv6Hex, parseIpv6, unusableIpv6 } from './ipv6-text.js';
import { writerMode, type TunWriterMode } from './write-worker.js';

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
  /**
   * Length of the kernel's transmit queue towards us, in packets, 0..2^31-1. Past it the kernel
   * drops silently (visible only in `tx_dropped`, see {@link TunDevice.readTxDropped}).
   * Default {@link DEFAULT_TX_QUEUE_LEN} (10000), not the kernel's 500: see that constant.
   */
  txQueueLen?: number;
  /**
   * IPv6 address of the kernel's side of the interface, RFC 4291 text (e.g. `'fd00::1'`; no
   * zone, no prefix). It is added as `/128` with `nodad`, so it is usable at once (never
   * tentative), after the interface is up. Before it goes up IPv6 is turned on and quietened:
   * `addr_gen_mode=1` (no link-local address), `accept_ra=0`, `router_solicitations=0`, so the
   * kernel sends nothing into the device unasked (see `TunConfiguration.ipv6`). Needs `mtu` of
   * at least 1280 (RFC 8200 §5); cannot go with `disableIpv6: true`.
   */
  address6?: string;
  /**
   * IPv6 address of the far (our) end, RFC 4291 text (e.g. `'fd00::2'`): `address6` is added
   * in the point-to-point form (`ip -6 addr add ADDRESS6 peer PEER6 dev NAME nodad`), so the
   * kernel routes `PEER6/128` into the device. Needs `address6`; must differ from it.
   */
  peer6?: string;
  /**
   * Bring the interface up. Default `true` when `address` or `address6` is given, else `false`.
   * `false` with `peer6` is an error: Linux makes the route to `peer6` only on an interface
   * that is up.
   */
  up?: boolean;
  /**
   * Turn IPv6 off on the interface (before it goes up) so the kernel sends no router
   * solicitations or other IPv6 into the device. Default `true`, or `false` with `address6`
   * (with which `true` is an error: IPv6 has to be on for the address).
   */
  disableIpv6?: boolean;
  /** Most packets read per event-loop turn and per receiver call, 1..4096. Default 256. */
  readBatch?: number;
  /**
   * Busy polling, in microseconds, 0..100000 (0 turns it off). After a burst the reader keeps
   * trying the fd once per event-loop turn until this long has passed without a packet, and
   * only then goes back to the readiness worker. Each hand-over to the worker costs a thread
   * wake-up and a message (tens of microseconds), which a request/response exchange pays on
   * every round trip; polling for a short while catches the answer instead, at the price of
   * at most this much CPU after the last packet (as Linux's `SO_BUSY_POLL`). Default
   * {@link DEFAULT_BUSY_POLL_US}.
   */
  busyPollUs?: number;
  /**
   * virtio-net offloads (`IFF_VNET_HDR` + `TUNSETOFFLOAD` CSUM|TSO4|TSO6). The kernel then hands over
   * TCP/IPv4 super-segments of up to 65535 bytes (larger than the MTU) and leaves TCP/UDP
   * checksums partial; the device completes them, so receivers still see ordinary, valid IPv4
   * packets, only larger and fewer. `send()` writes a zeroed header (no offload requested);
   * `sendTso()` (GSO send) asks the kernel to segment a TCP super-packet and finish its checksum.
   *
   * `true` requires them (`openTun()` fails with `ERR_TUN_CONFIG` where the kernel refuses);
   * `'auto'` asks for them and falls back to a plain device where the kernel refuses
   * `IFF_VNET_HDR` or TSO4 (the reason is in `TunDevice.offloadStatus`); `false` turns them off.
   * Default `false`: a raw-packet user gets MTU-sized packets unless it asks. The command-line
   * programs ask for `'auto'` (`--no-offload` gives `false`).
   */
  offload?: boolean | 'auto';
  /**
   * "BIG TCP" super-packets: with offload, `sendTso()` also takes TCP super-packets longer than
   * 65535 octets, up to `MAX_BIG_TSO_PACKET` (131072), and `tso.maxPacket` says so. Linux takes
   * such GSO packets from a TUN since 6.3 (BIG TCP for IPv4, `iph_totlen()`; IPv6's is older,
   * 5.19) when they come in its shapes: IPv4 with Total Length 0, IPv6 as an RFC 2675 jumbogram
   * (see `sendTso()`). Measured in the bench's fair workload: ~40 % fewer writes per GB.
   *
   * `'auto'` (the default): on when offload is on and the running kernel is Linux 6.3 or later
   * (`os.release()`, see {@link kernelTakesBigTso}); `true`: on whatever the kernel (for a kernel
   * with BIG TCP backported; an older one drops the big packets); `false`: off, 65535 as before.
   * `true` with `offload: false` (the default) is an error: without the virtio-net header there
   * is no GSO send at all, and a setting that silently does nothing would hide the mistake. With
   * `offload: 'auto'` on a kernel that refuses the offloads it is off, as `sendTso()` is.
   * The resolved value is `TunDevice.bigTso`. Transmit only: what the kernel hands over stays at
   * most 65535 octets (the TUN's default `gso_max_size`).
   */
  bigTso?: boolean | 'auto';
  /**
   * With offload: whether the device completes the partial checksums the kernel leaves in the
   * packets it hands over (`NEEDS_CSUM`, virtio spec v1.2 §5.1.6.2). Default `true`: every
   * packet delivered carries a valid checksum, as on a plain device. Either way a packet the
   * kernel marked `NEEDS_CSUM` (a local socket's packet that crossed memory, Linux's
   * CHECKSUM_PARTIAL) or `DATA_VALID` (verified already, CHECKSUM_UNNECESSARY; §5.1.6.4) is
   * delivered with its "checksum trusted" flag set (the receiver's second argument, see
   * {@link TunReceiver}). `false` leaves the partial sum in the checksum field: one pass over
   * every received octet less, for a receiver that honours the flag (the `Stack` of
   * `@tcp-tun/net`) and nothing between that drops it (its `withFaults` does, on purpose;
   * a receiver that sums the checksum anyway would drop every such packet). Ignored without
   * offload: the kernel then hands over complete checksums and no flags.
   */
  completeChecksums?: boolean;
  /**
   * Configure the interface (default `true`). With `false` the device is used as it is: it is
   * attached to (it must exist, or the process must be allowed to create it), its MTU is read
   * and nothing else is touched: `address`, `peer`, `prefixLength`, `address6`, `peer6`, `mtu`,
   * `txQueueLen`, `up` and `disableIpv6` are ignored. For a device that root prepared for this user
   * (`ip tuntap add dev tun0 mode tun user NAME`, then `ip addr` and `ip link`).
   *
   * With `true`, each setting is first read back and only changed when it differs, so a device
   * already configured as asked needs no privilege. A change refused for lack of privilege
   * (EPERM/EACCES) fails with `ERR_TUN_CONFIG` naming the command that would fix it, except for
   * the settings left at their defaults (`txQueueLen`, `disableIpv6`, and with `address6` the
   * quiet IPv6 sysctls), which are skipped with one warning (see `onWarning`): they tune the
   * device, they do not make it usable.
   */
  configure?: boolean;
  /**
   * Who writes packets to the device (issue 11's experiment, write-worker.ts): `'inline'` (the
   * default) writes each packet with one `fs.writeSync` in `send()`, on the calling thread;
   * `'worker'` copies it into a shared ring that a worker thread writes from, so the kernel's
   * receive work inside each write(2) runs on another core; `'auto'` writes inline while the ring
   * is empty the first two packets of a batch and packets of 8 KiB or more, and queues the rest.
   * Order is kept in every mode; counters include the worker's writes. Not the default: it did
   * not help enough on a 2-core machine (bench/PROFILE.md round 6).
   */
  writer?: TunWriterMode;
  /**
   * Called at most once per `openTun()`, with one line saying which default settings were left
   * as they were because the process may not change them, and the commands that would.
   * Default: `process.emitWarning(message, { code: 'TCP_TUN_UNPRIVILEGED' })`.
   */
  onWarning?: (message: string) => void;
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
  /** Kernel-side IPv6 address (16 bytes), or undefined to leave IPv6 addressing alone. */
  readonly address6: Uint8Array | undefined;
  /** Our IPv6 address (16 bytes), the point-to-point peer of `address6`, or undefined. */
  readonly peer6: Uint8Array | undefined;
  readonly mtu: number;
  readonly txQueueLen: number;
  readonly up: boolean;
  readonly disableIpv6: boolean;
  readonly readBatch: number;
  readonly busyPollUs: number;
  /** `'auto'` tries offloads and falls back; `openTun()` passes the outcome on as a boolean. */
  readonly offload: boolean | 'auto';
  /** `'auto'` is settled by `openTun()` (offload on and {@link kernelTakesBigTso}); see {@link TunOptions.bigTso}. */
  readonly bigTso: boolean | 'auto';
  /** See {@link TunOptions.completeChecksums}. */
  readonly completeChecksums: boolean;
  readonly configure: boolean;
  readonly writer: TunWriterMode;
  /** True when `txQueueLen` was asked for explicitly: then a refusal to set it is an error. */
  readonly txQueueLenRequired: boolean;
  /** True when `disableIpv6: true` was asked for explicitly: then a refusal is an error. */
  readonly disableIpv6Required: boolean;
  readonly onWarning: ((message: string) => void) | undefined;
}

/** Bytes in a Linux interface name including the terminating NUL (`IFNAMSIZ`). */
export const IFNAMSIZ = 16;
/** Smallest MTU an IPv4 link may have (RFC 791 §3.2: every module must forward 68 octets). */
export const MIN_MTU = 68;
/** Largest IPv4 packet (the 16-bit Total Length field, RFC 791 §3.1). */
export const MAX_MTU = 65535;
/** Smallest MTU of a link that carries IPv6 (RFC 8200 §5); below it Linux removes IPv6 from the interface. */
export const MIN_MTU_IPV6 = 1280;

/**
 * Default TUN transmit queue (towards us), in packets. The kernel's 500 is too short for a
 * user-space reader: past it packets are dropped silently (only `tx_dropped` tells), and the
 * senders are local TCP sockets that then wait for a retransmission timeout.
 * - Bursts: 500 connections that each send an initial window of 10 segments (RFC 6928) queue
 *   5000 packets at once.
 * - Stalls: the kernel feeds the queue at 300-450k packets/s (measured, ARCHITECTURE.md §4b),
 *   so 500 packets cover only 1-1.5 ms of an event loop busy elsewhere (a GC pause, a large
 *   receiver batch, a slow callback); 10000 cover 20-30 ms. The bench shows the difference.
 * The cost is memory only while we fall behind: 10000 MTU-sized packets are about 25 MB of
 * kernel buffers (truesize ~2.3 KB each); each TCP socket's share is capped by TCP Small
 * Queues (`tcp_limit_output_bytes`, 1 MB), also with offload on when entries are 64 KiB.
 */
export const DEFAULT_TX_QUEUE_LEN = 10_000;

/**
 * Default busy-polling window (see {@link TunOptions.busyPollUs}). Measured with bench/kbench.py
 * (MTU 1500, 2 cores): 64-byte round trips went from ~9-11k/s without it to ~21k/s with 50 µs,
 * and more did not help (200 µs and 1 ms gave the same); sequential connections doubled
 * (~2-4k/s to ~4-5k/s) and a one-way 256 MiB transfer gained ~20 %. 50 µs is a few times a
 * kernel-side round trip here, and bounds the idle cost to 50 µs of CPU per burst.
 */
export const DEFAULT_BUSY_POLL_US = 50;

const KNOWN_OPTIONS = new Set([
  'name', 'address', 'peer', 'prefixLength', 'address6', 'peer6', 'mtu', 'txQueueLen', 'up', 'disableIpv6', 'readBatch', 'busyPollUs', 'offload',
  'completeChecksums', 'configure', 'onWarning', 'writer', 'bigTso',
]);

/**
 * First Linux release whose TUN path takes BIG TCP super-packets of both families: 6.3 added
 * BIG TCP for IPv4 (`iph_totlen()` reading a GSO TCP skb's length when tot_len is 0; commit
 * "net: add support for ipv4 big tcp", Xin Long, 2023); IPv6's (the Hop-by-Hop jumbogram) came
 * in 5.19. Verified on 6.18: 100,000- and 200,000-octet super-packets of both shapes were taken whole.
 */
export const BIG_TSO_MIN_KERNEL: KernelVersion = Object.freeze({ major: 6, minor: 3 });

/** A Linux version, as far as features go: `6.18` of `6.18.44-fc-v1300`. */
export interface KernelVersion {
  /** The first number of the release (6 of 6.18). */
  readonly major: number;
  /** The second (18 of 6.18). */
  readonly minor: number;
}

/**
 * The major and minor version at the start of a Linux release string (`os.release()`, the
 * `uname -r` text, e.g. `'6.18.44-fc-v1300'` → `{ major: 6, minor: 18 }`,
 * `'5.15.0-91-generic'` → 5.15), or undefined when it does not start with `N.N`.
 */
export function parseKernelRelease(release: string): KernelVersion | undefined {
  const m = /^(\d{1,4})\.(\d{1,4})(?![\d])/.exec(release);
  if (m === null) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/**
 * Whether a kernel of this release takes BIG TCP super-packets from a TUN: Linux
 * {@link BIG_TSO_MIN_KERNEL} (6.3) or later. An unparsable release says no: the safe side
 * (the device then sends at most 65535 octets, which every kernel takes).
 */
export function kernelTakesBigTso(release: string): boolean {
  const v = parseKernelRelease(release);
  if (v === undefined) return false;
  return v.major > BIG_TSO_MIN_KERNEL.major || (v.major === BIG_TSO_MIN_KERNEL.major && v.minor >= BIG_TSO_MIN_KERNEL.minor);
}

/**
 * Settles `bigTso` once the offloads are known: on only with offload, then as asked, `'auto'`
 * by the kernel's release ({@link kernelTakesBigTso}).
 */
export function resolveBigTso(bigTso: boolean | 'auto', offload: boolean, release: string): boolean {
  if (!offload) return false;
  return bigTso === 'auto' ? kernelTakesBigTso(release) : bigTso;
}

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

function address6(name: string, value: unknown): Uint8Array | undefined {
  if (value === undefined) return undefined;
  const parsed = typeof value === 'string' ? parseIpv6(value) : undefined;
  if (parsed === undefined) {
    throw invalidArg(name, value, 'must be an IPv6 address in RFC 4291 text form, without a zone or prefix (e.g. fd00::1)');
  }
  const unusable = unusableIpv6(parsed);
  if (unusable !== undefined) throw invalidArg(name, value, `${unusable}, which cannot be an interface's address`);
  return parsed;
}

function boolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidArg(name, value, 'must be a boolean');
  return value;
}

function offloadMode(value: unknown): boolean | 'auto' {
  if (value === undefined) return false;
  if (value !== 'auto' && typeof value !== 'boolean') throw invalidArg('offload', value, "must be a boolean or 'auto'");
  return value;
}

function bigTsoMode(value: unknown, offload: boolean | 'auto'): boolean | 'auto' {
  if (value === undefined) return 'auto';
  if (value !== 'auto' && typeof value !== 'boolean') throw invalidArg('bigTso', value, "must be a boolean or 'auto'");
  if (value === true && offload === false) {
    throw invalidArg('bigTso', value, "needs 'offload' (true or 'auto'): big super-packets are sent with sendTso(), which needs the virtio-net header");
  }
  return value;
}

function warningHandler(value: unknown): ((message: string) => void) | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw invalidArg('onWarning', typeof value, 'must be a function');
  return value as (message: string) => void;
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
  const addr6 = address6('address6', options.address6);
  const peer6 = address6('peer6', options.peer6);
  if (peer6 !== undefined && addr6 === undefined) throw invalidArg('peer6', options.peer6, "needs 'address6' as well");
  if (addr6 !== undefined && peer6 !== undefined && ipv6Hex(addr6) === ipv6Hex(peer6)) {
    throw invalidArg('peer6', options.peer6, "must differ from 'address6'");
  }
  if (addr6 !== undefined && options.disableIpv6 === true) {
    throw invalidArg('disableIpv6', true, "cannot be true with 'address6': the address needs IPv6 on the interface");
  }
  if (peer6 !== undefined && options.up === false) {
    // Measured on 6.18: an address added to a down interface never gets its peer route, and
    // adding the route by hand fails with ENETDOWN.
    throw invalidArg('up', false, "cannot be false with 'peer6': Linux routes to peer6 only on an interface that is up");
  }
  const mtu = options.mtu === undefined ? 1500 : integerIn('mtu', options.mtu, MIN_MTU, MAX_MTU);
  if (addr6 !== undefined && mtu < MIN_MTU_IPV6) {
    throw invalidArg('mtu', mtu, `must be at least ${MIN_MTU_IPV6} with 'address6' (the IPv6 minimum link MTU, RFC 8200 §5)`);
  }
  const txQueueLen = options.txQueueLen === undefined
    ? DEFAULT_TX_QUEUE_LEN
    : integerIn('txQueueLen', options.txQueueLen, 0, 0x7fffffff);
  const readBatch = options.readBatch === undefined ? 256 : integerIn('readBatch', options.readBatch, 1, 4096);
  return {
    name,
    address: addr,
    peer,
    prefixLength,
    address6: addr6,
    peer6,
    mtu,
    txQueueLen,
    up: boolean('up', options.up, addr !== undefined || addr6 !== undefined),
    disableIpv6: boolean('disableIpv6', options.disableIpv6, addr6 === undefined),
    readBatch,
    busyPollUs: options.busyPollUs === undefined ? DEFAULT_BUSY_POLL_US : integerIn('busyPollUs', options.busyPollUs, 0, 100_000),
    offload: offloadMode(options.offload),
    bigTso: bigTsoMode(options.bigTso, offloadMode(options.offload)),
    completeChecksums: boolean('completeChecksums', options.completeChecksums, true),
    configure: boolean('configure', options.configure, true),
    writer: writerMode(options.writer),
    txQueueLenRequired: options.txQueueLen !== undefined,
    disableIpv6Required: options.disableIpv6 === true,
    onWarning: warningHandler(options.onWarning),
  };
}
