/**
 * The connect side of the socket layer that needs no socket: Node's checks of the connect
 * options (lookupAndConnect's, in its order and words), and the pieces of Node 20's
 * autoSelectFamily (RFC 8305 "Happy Eyeballs" as Node does it): the candidate order and the
 * state of a multi-address connect.
 */
import net from 'node:net';
import { inspect } from 'node:util';
import { ipv6FromString, ipv6ToString } from '@tcp-tun/ip';
import type { TcpConfig } from '@tcp-tun/tcp';
import { SystemError, argumentError, describe, validatePort } from './errors.js';
import type { ConnectionHandle, LookupFunction } from './handle.js';
import type { SocketConstructorOpts, TcpSocketConnectOpts } from './socket-args.js';
import { ipType } from './socket-address.js';

/** Where a connect goes once the host is an IP literal. */
export interface ConnectTarget {
  readonly remotePort: number;
  readonly localPort: number | undefined;
  readonly localAddress: string | undefined;
  readonly tcp: Partial<TcpConfig> | undefined;
}

/** One address of a lookup answer worth trying. */
export interface Candidate {
  readonly address: string;
  readonly family: 4 | 6;
}

/** An autoSelectFamily connect under way (Node's internalConnectMultiple context). */
export interface Attempts {
  readonly candidates: readonly Candidate[];
  next: number;
  readonly errors: Error[];
  readonly target: ConnectTarget;
  readonly timeoutMs: number;
  timer: NodeJS.Timeout | undefined;
  /** The handle of the attempt that just failed (its 'closed' is not the socket's). */
  failed?: ConnectionHandle | undefined;
}

/** Node's check of `autoSelectFamilyAttemptTimeout`: an int32 ≥ 1, raised to 10; default Node's. */
export function validateAttemptTimeout(value: unknown): number {
  if (value === undefined || value === null) return net.getDefaultAutoSelectFamilyAttemptTimeout();
  if (typeof value !== 'number') {
    throw argumentError('ERR_INVALID_ARG_TYPE', `The "options.autoSelectFamilyAttemptTimeout" property must be of type number. Received ${describe(value)}`, 'type');
  }
  if (!Number.isInteger(value) || value < 1 || value > 0x7fffffff) {
    throw argumentError('ERR_OUT_OF_RANGE', `The value of "options.autoSelectFamilyAttemptTimeout" is out of range. It must be >= 1 && <= 2147483647. Received ${String(value)}`, 'range');
  }
  return Math.max(10, value);
}

/** Whether IPv6 text `a` names the address `b` (RFC 5952 text of ours), spelled either way. */
export function sameIpv6(a: string, b: string | undefined): boolean {
  if (b === undefined) return false;
  try {
    return ipv6ToString(ipv6FromString(a)) === b;
  } catch {
    return false;
  }
}

/** The connect options after Node's checks. */
export interface CheckedConnectOptions {
  readonly remotePort: number;
  /** A truthy localAddress (an IP literal), else undefined. */
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  readonly autoSelect: boolean;
  readonly attemptTimeoutMs: number;
  /** `options.host || 'localhost'`, as Node. */
  readonly host: string;
  /** Node's `isIP(host)`: 0 for a name. */
  readonly hostType: 0 | 4 | 6;
  /** 'IPv4'/'IPv6' as 4/6, anything else as given (Node's socketToDnsFamily). */
  readonly family: unknown;
}

/**
 * Node's checks of connect options (port, host type, localAddress, localPort,
 * autoSelectFamily and its attempt timeout, family), throwing Node's errors.
 */
export function checkConnectOptions(options: TcpSocketConnectOpts & SocketConstructorOpts): CheckedConnectOptions {
  const remotePort = validatePort(options.port, 'Port');
  if (options.host !== undefined && options.host !== null && typeof options.host !== 'string') {
    throw argumentError('ERR_INVALID_ARG_TYPE', `The "hostname" argument must be of type string. Received ${describe(options.host)}`, 'type');
  }
  // Node's lookupAndConnect: a truthy localAddress must be an IP literal of either family.
  const localAddress = options.localAddress === undefined || options.localAddress === null || options.localAddress === '' ? undefined : options.localAddress;
  if (localAddress !== undefined && ipType(localAddress) === 0) {
    throw argumentError('ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${String(localAddress)}`, 'type');
  }
  if (options.localPort !== undefined && typeof options.localPort !== 'number') {
    throw argumentError('ERR_INVALID_ARG_TYPE', `The "options.localPort" property must be of type number. Received ${describe(options.localPort)}`, 'type');
  }
  const localPort = options.localPort === undefined ? undefined : validatePort(options.localPort, 'options.localPort');
  const autoSelect: unknown = options.autoSelectFamily ?? net.getDefaultAutoSelectFamily();
  if (typeof autoSelect !== 'boolean') {
    throw argumentError('ERR_INVALID_ARG_TYPE', `The "options.autoSelectFamily" property must be of type boolean. Received ${describe(autoSelect)}`, 'type');
  }
  const attemptTimeoutMs = validateAttemptTimeout(options.autoSelectFamilyAttemptTimeout);
  const host = options.host || 'localhost';
  const hostType = ipType(host);
  // Node's socketToDnsFamily: 'IPv4'/'IPv6' (as `address().family` spells them) become 4/6;
  // anything else goes to the resolver as given. dns.lookup (here: no `lookup` option, the
  // stack's resolver standing in for it) refuses any other value; a resolver of the
  // program's own gets it unchecked, and an IP literal is never looked up at all.
  const family: unknown = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
  if (hostType === 0 && options.lookup === undefined && family !== undefined && family !== null && family !== 0 && family !== 4 && family !== 6) {
    throw argumentError('ERR_INVALID_ARG_VALUE', `The property 'options.family' must be one of: 0, 4, 6. Received ${inspect(family)}`, 'type');
  }
  return { remotePort, localAddress, localPort, autoSelect, attemptTimeoutMs, host, hostType, family };
}

/**
 * The order of attempts (Node's lookupAndConnectMultiple): the first answer's family, then
 * the other, alternating, each in the resolver's order (RFC 8305 §4 interleaving).
 */
export function interleave(groups: readonly [readonly Candidate[], readonly Candidate[]]): Candidate[] {
  const order: Candidate[] = [];
  for (let i = 0; i < Math.max(groups[0].length, groups[1].length); i++) {
    if (i < groups[0].length) order.push(groups[0][i]!);
    if (i < groups[1].length) order.push(groups[1][i]!);
  }
  return order;
}

/** What a resolver may do to the socket it resolves for. */
export interface ResolveHooks {
  /** Still connecting and not destroyed (a lookup answer may come too late). */
  alive(): boolean;
  /** Emits Node's 'lookup' event. */
  lookupEvent(err: Error | null, address: unknown, family: unknown, host: string): void;
  /** Destroys the socket with `err`. */
  fail(err: Error): void;
  /** Connects to one IP literal. */
  open(address: string, type: 4 | 6): void;
  /** Connects to the first of several addresses that answers (autoSelectFamily). */
  attemptAll(order: readonly Candidate[]): void;
}

/**
 * The stack's own resolver (no `lookup` option nor `StackOptions.lookup`), standing in for
 * `dns.lookup`: `localhost` is 127.0.0.1 (what `dns.lookup('localhost')` answers on Linux from
 * /etc/hosts; `::1` when `family: 6` asks for IPv6, as the usual hosts file has it), any other
 * name fails as an unresolvable one does (ENOTFOUND); on a stack without IPv4, `localhost` is
 * `::1`. One answer, so one 'lookup' event, as
 * Node's autoSelectFamily path emits for a single address.
 */
export function resolveDefault(host: string, family: unknown, hasIpv4: boolean, hooks: ResolveHooks): void {
  process.nextTick(() => {
    if (!hooks.alive()) return;
    if (host === 'localhost') {
      // A stack without IPv4 has only ::1 to offer for loopback.
      const type = family === 6 || (family !== 4 && !hasIpv4) ? 6 : 4;
      const address = type === 6 ? '::1' : '127.0.0.1';
      hooks.lookupEvent(null, address, type, host);
      hooks.open(address, type);
    } else {
      const err = new SystemError('ENOTFOUND', 'getaddrinfo', host);
      hooks.lookupEvent(err, undefined, undefined, host);
      hooks.fail(err);
    }
  });
}

/** A one-address lookup (Node's lookupAndConnect without autoSelectFamily): one 'lookup' event, emitted first. */
export function resolveOne(lookup: LookupFunction, host: string, dnsOptions: object, remotePort: number, hooks: ResolveHooks): void {
  const callback = (err: NodeJS.ErrnoException | null, address: unknown, addressType?: unknown): void => {
    hooks.lookupEvent(err, address, addressType, host);
    if (!hooks.alive()) return;
    if (err !== null && err !== undefined) hooks.fail(err);
    else if (ipType(address) === 0) hooks.fail(argumentError('ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${String(address)}`, 'type'));
    else if (addressType !== 4 && addressType !== 6) hooks.fail(familyError(addressType, host, remotePort));
    else hooks.open(address as string, addressType);
  };
  lookup(host, dnsOptions as Parameters<LookupFunction>[1], callback as Parameters<LookupFunction>[2]);
}

/**
 * Node 20's autoSelectFamily lookup (its lookupAndConnectMultiple): every address of the answer
 * is reported in its own 'lookup' event; the valid ones (an IP literal with family 4 or 6, each
 * once) are ordered by {@link interleave} and handed to `attemptAll`, a single one to `open`.
 * No valid address: the first answer's error (Node's words).
 */
export function resolveAll(lookup: LookupFunction, host: string, dnsOptions: object, remotePort: number, hooks: ResolveHooks): void {
  const callback = (err: NodeJS.ErrnoException | null, answer: unknown): void => {
    if (!hooks.alive()) return;
    if (err !== null && err !== undefined) {
      hooks.lookupEvent(err, undefined, undefined, host);
      hooks.fail(err);
      return;
    }
    // A resolver that answers with one string despite `all` is taken at its word.
    const list: ReadonlyArray<{ address?: unknown; family?: unknown } | undefined> = Array.isArray(answer) ? answer : [{ address: answer, family: ipType(answer) }];
    const groups: [Candidate[], Candidate[]] = [[], []];
    let firstFamily: 4 | 6 | undefined;
    for (const entry of list) {
      const { address, family } = entry ?? {};
      hooks.lookupEvent(null, address, family, host);
      if (!hooks.alive()) return;
      if (ipType(address) === 0 || (family !== 4 && family !== 6)) continue;
      firstFamily ??= family;
      const group = groups[family === firstFamily ? 0 : 1];
      if (!group.some((c) => c.address === address)) group.push({ address: address as string, family });
    }
    if (groups[0].length === 0) {
      // (Node throws a TypeError out of the callback on an empty answer; a clear error instead.)
      const first = list[0];
      if (ipType(first?.address) === 0) hooks.fail(argumentError('ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${String(first?.address)}`, 'type'));
      else hooks.fail(familyError(first?.family, host, remotePort));
      return;
    }
    const order = interleave(groups);
    if (order.length === 1) hooks.open(order[0]!.address, order[0]!.family);
    else hooks.attemptAll(order);
  };
  lookup(host, dnsOptions as Parameters<LookupFunction>[1], callback as Parameters<LookupFunction>[2]);
}

/** Node's ERR_INVALID_ADDRESS_FAMILY for a resolver's answer of another family than 4 or 6. */
function familyError(family: unknown, host: string, port: number): Error {
  return argumentError('ERR_INVALID_ADDRESS_FAMILY', `Invalid address family: ${String(family)} ${host}:${port}`, 'range');
}
