/**
 * The device, privilege, capture and fault-injection flags shared by tcp-tun's command-line
 * programs, and the one function that turns them into a `Link`: the TUN device, wrapped by the
 * fault injector (when any fault is asked for) and by the pcap writer (outermost, so the capture
 * shows what the stack itself sent and received). It also drops root (`--user`) once the device
 * and the capture file are open, before the caller can handle a packet.
 */
import { closeSync, unlinkSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { capture, traceLink, TraceWriter, withFaults, type FaultOptions, type Link, type TracingLink } from '@tcp-tun/net';
import { DEFAULT_BUSY_POLL_US, openTun, type TunDevice, type TunWriterMode } from '@tcp-tun/tun';
import { type Command, InvalidArgumentError } from 'commander';
import { dropPrivileges, resolveGroup, resolveUser, type Identity } from './privileges.js';
import { createPrivateFile } from './private-file.js';
import { flushOnExit, type Flushable } from './flush-on-exit.js';

/** The parsed shared flags. */
export interface LinkOptions {
  /** `--dev`: TUN device name, 1 to 15 characters (default 'tun0'). */
  readonly dev: string;
  /**
   * `--addr`: the stack's own IPv4 address, dotted quad (default 10.0.0.2). Undefined when IPv4
   * is off: only `--addr6`/`--peer6` were given, neither `--addr` nor `--peer`.
   */
  readonly addr: string | undefined;
  /** `--peer`: the kernel's IPv4 address on the point-to-point TUN link (default 10.0.0.1); undefined with `addr`. */
  readonly peer: string | undefined;
  /** `--addr6`: the stack's own IPv6 address (RFC 5952 text); undefined: IPv6 off (no default). */
  readonly addr6: string | undefined;
  /** `--peer6`: the kernel's IPv6 address on the TUN link (RFC 5952 text); given with `addr6` only. */
  readonly peer6: string | undefined;
  /** `--mtu`: link MTU in octets, 576–65535 (default 1500). */
  readonly mtu: number;
  /**
   * Virtio-net offloads on the TUN device: the kernel hands over TCP super-segments of up to
   * 64 KiB with checksums completed by the device, and the stack sends TCP super-packets of up
   * to 64 KiB that the kernel segments to the MTU (GSO send, `Link.tso`). `'auto'` (the default)
   * turns them on where the kernel takes `IFF_VNET_HDR` + TSO4 and falls back silently where it
   * does not (`TunDevice.offloadStatus` says which); `--no-offload` gives `false`; `--offload`
   * gives `true`, which fails where the kernel refuses them.
   */
  readonly offload: boolean | 'auto';
  /** Busy-polling window of the TUN reader in microseconds (`--busy-poll`); 0 turns it off. */
  readonly busyPollUs: number;
  /**
   * `--tun-writer`: who writes packets to the TUN device (TunOptions.writer): `'inline'` (the
   * default) the main thread, `'worker'` a writer thread, `'auto'` inline for the first packets
   * of a batch and the thread for the rest.
   */
  readonly tunWriter: TunWriterMode;
  /** `--pcap FILE`: capture every packet there (pcap, LINKTYPE_RAW; created mode 0600). */
  readonly pcap?: string | undefined;
  /**
   * Configure the device (default); `--no-configure` uses it as it is (TunOptions.configure:
   * false), for a device root prepared for this user.
   */
  readonly configure: boolean;
  /** `--user`: become this user (name or uid) once the device is open. */
  readonly user?: string | undefined;
  /** `--group`: with `--user`, this group instead of the user's primary group. */
  readonly group?: string | undefined;
  /** Undefined when no fault flag was given. */
  readonly faults?: FaultOptions | undefined;
  /** `--trace`: write per-connection time series (JSON lines, see `traceLink`) to this file. */
  readonly trace?: string | undefined;
}

const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** commander argument parser for an IPv4 address. */
export function ipv4(value: string): string {
  if (!DOTTED_QUAD.test(value)) throw new InvalidArgumentError('expected an IPv4 address such as 10.0.0.2.');
  return value;
}

/**
 * commander argument parser for an IPv6 address of an interface end: RFC 4291 text without a
 * zone, not the unspecified, loopback, multicast or an IPv4-mapped address. Returns the RFC 5952
 * form (lower case, longest zero run as `::`), so equal addresses compare equal.
 */
export function ipv6(value: string): string {
  const usage = 'expected an IPv6 address such as fd00::2 (no brackets, zone or prefix).';
  if (value.includes('%') || !isIPv6(value)) throw new InvalidArgumentError(usage);
  // WHATWG URL serialises an IPv6 host in RFC 5952's compressed lower-case form.
  const text = new URL(`http://[${value}]/`).hostname.slice(1, -1);
  if (text === '::' || text === '::1' || /^ff[0-9a-f]{2}:/.test(text) || /^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(text)) {
    throw new InvalidArgumentError('expected an IPv6 address for an interface end: not ::, ::1, multicast (ff00::/8) or IPv4-mapped (::ffff:0:0/96).');
  }
  return text;
}

/** The default of `--addr`, used unless only the IPv6 pair is given. */
export const DEFAULT_ADDR = '10.0.0.2';
/** The default of `--peer`, used unless only the IPv6 pair is given. */
export const DEFAULT_PEER = '10.0.0.1';
/** Smallest MTU with `--addr6` (RFC 8200 §5: every link that carries IPv6 has at least 1280). */
const MIN_MTU_IPV6 = 1280;

/** commander argument parser for an integer in [min, max]. */
export function intIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    return n;
  };
}

function tunWriterMode(value: string): TunWriterMode {
  if (value !== 'inline' && value !== 'worker' && value !== 'auto') throw new InvalidArgumentError('expected inline, worker or auto.');
  return value;
}

function probability(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a probability from 0 to 1, such as 0.05.');
  return n;
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(Number.isFinite(n) && n >= 0)) throw new InvalidArgumentError('expected a non-negative number.');
  return n;
}

/** Adds the device, capture and fault flags to `command`. */
export function addLinkOptions(command: Command): Command {
  return command
    .option('--dev <name>', 'TUN device name', 'tun0')
    // No commander defaults: readLinkOptions fills them in unless only the IPv6 pair is given.
    .option('--addr <ipv4>', `the stack's own IPv4 address (default: ${DEFAULT_ADDR}; IPv4 is off when only --addr6/--peer6 are given)`, ipv4)
    .option('--peer <ipv4>', `the kernel's IPv4 address on the TUN, its point-to-point peer (default: ${DEFAULT_PEER})`, ipv4)
    .option('--addr6 <ipv6>', "the stack's own IPv6 address, e.g. fd00::2 (no default: IPv6 is off unless --addr6 and --peer6 are given)", ipv6)
    .option('--peer6 <ipv6>', "the kernel's IPv6 address on the TUN, e.g. fd00::1 (with --addr6)", ipv6)
    .option('--mtu <n>', 'link MTU in octets', intIn(576, 65535), 1500)
    .option('--busy-poll <us>', 'keep polling the TUN device this many microseconds after the last packet before sleeping (0: off)', intIn(0, 100_000), DEFAULT_BUSY_POLL_US)
    .option('--tun-writer <mode>', "who writes packets to the TUN device: inline (the main thread), worker (a writer thread, so the kernel's work inside each write runs on another core) or auto (inline for the first two packets of a batch and for packets of 8 KiB or more, the thread for the rest)", tunWriterMode, 'inline')
    // Both forms, no default: unset means 'auto' (readLinkOptions).
    .option('--offload', 'require the offloads (on by default where the kernel takes them): TCP super-segments of up to 64 KiB each way (IFF_VNET_HDR, TSO4, GSO send); fail where the kernel refuses them')
    .option('--no-offload', 'one MTU-sized packet per read and write: no virtio-net header, no super-segments')
    .option('--no-configure', 'use the TUN device as it is: attach, read its MTU, change nothing (for a device root made for this user)')
    .option('--user <name>', 'after opening the device (and --pcap file), drop root to this user (name or uid) before handling any packet')
    .option('--group <name>', 'with --user: drop to this group instead of the user\'s primary group')
    .option('--pcap <file>', 'capture every packet to <file> (pcap, LINKTYPE_RAW; flushed every second and on exit, SIGINT and SIGTERM; created mode 0600, never through a symlink)')
    .option('--drop <p>', 'fault injection: drop packets with probability p (both directions)', probability)
    .option('--duplicate <p>', 'fault injection: duplicate packets with probability p', probability)
    .option('--reorder <p>', 'fault injection: hold back packets with probability p so later ones overtake', probability)
    .option('--corrupt <p>', 'fault injection: flip one bit with probability p', probability)
    .option('--delay <ms>', 'fault injection: delay every packet by ms', nonNegative)
    .option('--jitter <ms>', 'fault injection: add up to ms of random delay', nonNegative)
    .option('--rate <bytes_per_s>', 'fault injection: limit each direction to this rate', nonNegative)
    .option('--fault-seed <n>', 'seed of the fault injector (runs replay exactly)', intIn(0, 2 ** 32 - 1), 1)
    // Seeing inside (kept in a block of its own).
    .option('--trace <file>', 'record per-connection time series to <file> (JSON lines: segments, ACKs, SACKs, retransmissions, cwnd, RTT; draw with tcp-tun-plot; flushed every second and on exit; created mode 0600, never through a symlink)');
}

/**
 * The two address pairs. IPv6 is all or nothing: `--addr6` and `--peer6` together, or neither.
 * IPv4 is on, with the defaults for a missing half, unless the IPv6 pair was given without
 * `--addr` or `--peer` (an IPv6-only stack); so without IPv6 flags everything is as it always was.
 */
function readAddresses(o: Record<string, unknown>): Pick<LinkOptions, 'addr' | 'peer' | 'addr6' | 'peer6'> {
  const text = (k: string): string | undefined => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
  const addr6 = text('addr6');
  const peer6 = text('peer6');
  if (addr6 !== undefined && peer6 === undefined) throw new InvalidArgumentError('--addr6 needs --peer6 (the kernel\'s IPv6 address on the TUN).');
  if (peer6 !== undefined && addr6 === undefined) throw new InvalidArgumentError('--peer6 needs --addr6 (the stack\'s IPv6 address).');
  if (addr6 !== undefined && addr6 === peer6) throw new InvalidArgumentError('--addr6 and --peer6 must differ.');
  if (addr6 !== undefined && Number(o.mtu) < MIN_MTU_IPV6) {
    throw new InvalidArgumentError(`--mtu must be at least ${MIN_MTU_IPV6} with --addr6 (the IPv6 minimum link MTU, RFC 8200 §5).`);
  }
  const v4 = addr6 === undefined || text('addr') !== undefined || text('peer') !== undefined;
  const addr = v4 ? text('addr') ?? DEFAULT_ADDR : undefined;
  const peer = v4 ? text('peer') ?? DEFAULT_PEER : undefined;
  if (v4 && addr === peer) throw new InvalidArgumentError('--addr and --peer must differ.');
  return { addr, peer, addr6, peer6 };
}

/** The stack's own addresses, named as the `Stack` options name them. */
export interface StackAddresses {
  /** IPv4, dotted quad (`--addr`); absent on an IPv6-only stack. */
  address?: string;
  /** IPv6, RFC 5952 text (`--addr6`); absent unless the IPv6 pair was given. */
  address6?: string;
}

/**
 * The stack's addresses from the flags, as `Stack` options: `{ address }`, `{ address6 }` or both.
 * A separately typed object, spread into the Stack's options (`new Stack({ link, ...addrs })`).
 */
export function stackAddresses(options: Pick<LinkOptions, 'addr' | 'addr6'>): StackAddresses {
  return {
    ...(options.addr === undefined ? {} : { address: options.addr }),
    ...(options.addr6 === undefined ? {} : { address6: options.addr6 }),
  };
}

/** Reads the flags `addLinkOptions` added from commander's `opts()`. */
export function readLinkOptions(o: Record<string, unknown>): LinkOptions {
  const dev = String(o.dev);
  if (dev.length === 0 || dev.length > 15) throw new InvalidArgumentError('--dev must be 1 to 15 characters.');
  const addresses = readAddresses(o);
  const num = (k: string): number | undefined => (typeof o[k] === 'number' ? (o[k] as number) : undefined);
  const faults: FaultOptions = {
    seed: num('faultSeed') ?? 1,
    drop: num('drop'),
    duplicate: num('duplicate'),
    reorder: num('reorder'),
    corrupt: num('corrupt'),
    delayMs: num('delay'),
    jitterMs: num('jitter'),
    rateBytesPerSecond: num('rate'),
  };
  if (o.group !== undefined && o.user === undefined) throw new InvalidArgumentError('--group needs --user.');
  const anyFault = ['drop', 'duplicate', 'reorder', 'corrupt', 'delay', 'jitter', 'rate'].some((k) => num(k) !== undefined);
  return {
    dev,
    ...addresses,
    mtu: Number(o.mtu),
    offload: typeof o.offload === 'boolean' ? o.offload : 'auto',
    busyPollUs: Number(o.busyPoll),
    tunWriter: o.tunWriter === 'worker' || o.tunWriter === 'auto' ? o.tunWriter : 'inline',
    pcap: typeof o.pcap === 'string' ? o.pcap : undefined,
    configure: o.configure !== false,
    user: typeof o.user === 'string' ? o.user : undefined,
    group: typeof o.group === 'string' ? o.group : undefined,
    faults: anyFault ? faults : undefined,
    trace: typeof o.trace === 'string' ? o.trace : undefined,
  };
}

/** Reads the shared flags, or ends the program with a usage error as commander does. */
export function readLinkOptionsOrExit(program: Command): LinkOptions {
  try {
    return readLinkOptions(program.opts());
  } catch (err) {
    return program.error(`error: ${(err as Error).message}`);
  }
}

/** What {@link openLink} returns. */
export interface OpenedLink {
  /** The opened TUN device, for its counters (`stats`), `offloadStatus` and `configuration`. */
  readonly device: TunDevice;
  /** The link to give the stack. */
  readonly link: Link;
  /** The identity after `--user`, or undefined when no drop was asked for. */
  readonly identity: Identity | undefined;
  /**
   * With `--trace`: the tracing wrapper (outermost, `link` itself). Give it the stack once it
   * exists (`trace.attach(stack)`) so it samples cwnd, RTT and in-flight too.
   */
  readonly trace?: TracingLink | undefined;
}

/** Where {@link openLink} writes its one-line notices (a refused default setting). */
export type Notice = (message: string) => void;

/**
 * Opens (creating and configuring if needed, unless `configure` is false) the TUN device: the
 * kernel side gets `peer` (and `peer6`), the point-to-point destination is `addr` (and `addr6`),
 * the stack's address. Opens
 * the `--pcap` and `--trace` files (mode 0600, no symlink; flushed every second, on exit, SIGINT
 * and SIGTERM), then, with `user`, drops root to that user: all of
 * this before the stack exists, so no packet is handled with privileges. Throws (and releases
 * the device) when the drop fails: a program asked to drop must not run on as root.
 */
export async function openLink(
  options: LinkOptions,
  onDeviceError: (err: Error) => void = (err) => {
    process.stderr.write(`tcp-tun: the TUN device failed: ${err.message}\n`);
    process.exit(1);
  },
  notice: Notice = (message) => process.stderr.write(`tcp-tun: ${message}\n`),
): Promise<OpenedLink> {
  // Resolve the account before touching the device: a typo must not leave a device behind.
  const account = options.user === undefined ? undefined : resolveUser(options.user);
  const gid = options.group === undefined ? account?.gid : resolveGroup(options.group);
  const device = await openTun({
    name: options.dev,
    address: options.peer,
    peer: options.addr,
    // The kernel side gets --peer6; the stack's --addr6 is its point-to-point peer.
    address6: options.peer6,
    peer6: options.addr6,
    mtu: options.mtu,
    offload: options.offload,
    // With offload the kernel's own packets arrive with partial checksums and the "trusted"
    // flag, which the stack honours: completing them would be a pass over every octet for
    // nothing. Completed only when something between the device and the stack needs valid
    // checksums: the fault injector drops the flag (it may corrupt packets, so the stack
    // verifies everything), and a capture should verify in Wireshark.
    completeChecksums: options.faults !== undefined || options.pcap !== undefined,
    busyPollUs: options.busyPollUs,
    writer: options.tunWriter,
    configure: options.configure,
    onWarning: notice,
  });
  let link: Link = device;
  let identity: Identity | undefined;
  let createdPcap = false;
  let createdTrace = false;
  let trace: TracingLink | undefined;
  const flushables: Flushable[] = [];
  try {
    if (!device.configuration.up) notice(`TUN device '${device.name}' is down: nothing will arrive until it is up (ip link set dev ${device.name} up)`);
    if (options.faults) link = withFaults(link, options.faults);
    if (options.pcap !== undefined) {
      // The writer takes the descriptor we opened safely (0600, no symlink) and owns it.
      const file = createPrivateFile(options.pcap);
      createdPcap = file.created;
      try {
        const capturing = capture(link, file.fd);
        link = capturing;
        flushables.push(capturing.writer);
      } catch (error) {
        closeSync(file.fd);
        throw error;
      }
    }
    if (options.trace !== undefined) {
      const file = createPrivateFile(options.trace);
      createdTrace = file.created;
      let writer: TraceWriter;
      try {
        writer = new TraceWriter(file.fd);
      } catch (error) {
        closeSync(file.fd);
        throw error;
      }
      flushables.push(writer);
      // Outermost, as the capture: it sees exactly what the stack sends and receives.
      trace = traceLink(link, writer.write, { onClose: () => writer.close() });
      link = trace;
    }
    if (account !== undefined) identity = dropPrivileges(account, gid);
  } catch (error) {
    await link.close();
    // Nothing left behind: a capture file this run created goes with the failed start.
    if (createdPcap && options.pcap !== undefined) unlinkSync(options.pcap);
    if (createdTrace && options.trace !== undefined) unlinkSync(options.trace);
    throw error;
  }
  // Buffered output reaches the disk on exit, SIGINT and SIGTERM too, not just every second.
  if (flushables.length > 0) flushOnExit(flushables);
  // A device that fails for good (e.g. the interface was deleted under us) reports it here;
  // without a listener the EventEmitter would throw it into the event loop.
  device.on('error', onDeviceError);
  return { device, link, identity, trace };
}
