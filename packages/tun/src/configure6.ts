/**
 * The IPv6 settings of the interface (options `address6`, `peer6`, `disableIpv6`): per-interface
 * sysctls through /proc/sys, the address and the host route to us through rtnetlink
 * (netlink.ts), each read first from /proc/net so that an interface already as asked is left
 * alone and needs no privilege.
 *
 * What the kernel does on an IPv6-enabled TUN unasked, and which sysctl stops it (measured in a
 * namespace on kernel 6.18; a TUN is IFF_NOARP, so the kernel already skips duplicate address
 * detection and joins no solicited-node group, hence sends no DAD probes and no MLD reports for
 * our addresses):
 * - a random link-local address (ARPHRD_NONE devices get IN6_ADDR_GEN_MODE_RANDOM since Linux
 *   4.17) and from it router solicitations, two in the first five seconds and more later
 *   (RFC 4861 §6.3.7): `addr_gen_mode=1` (IN6_ADDR_GEN_MODE_NONE) makes no link-local address,
 *   and `router_solicitations=0` and `accept_ra=0` stop solicitations and the processing of
 *   advertisements even if one appears. With them set before the interface goes up, nothing at
 *   all arrived in the same five seconds.
 * - the stack speaks no Neighbor Discovery: a point-to-point link has no link-layer addresses to
 *   resolve, so it needs no link-local address either.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { configError } from './errors.js';
import { ifreqInt, ifreqWithName } from './ifreq.js';
import { formatIpv6, ipv6Hex } from './ipv6-text.js';
import { ioctl } from './libc.js';
import { newAddressMessage, newHostRouteMessage, rtnetlinkRequest } from './netlink.js';
import type { ResolvedTunOptions } from './options.js';
import type { Setting } from './configure.js';

/** `SIOCGIFINDEX` (linux/sockios.h): the interface index, which rtnetlink requests name. */
const SIOCGIFINDEX = 0x8933;
/** `/proc/net/if_inet6` flag: the address is still tentative (IFA_F_TENTATIVE). */
const IFA_F_TENTATIVE = 0x40;

/**
 * The per-interface sysctls set before the interface goes up when `address6` is given, in the
 * order applied, with the value wanted (see the file comment for why each).
 */
export const QUIET_IPV6_SYSCTLS: readonly (readonly [key: string, value: string])[] = [
  ['addr_gen_mode', '1'],
  ['accept_ra', '0'],
  ['router_solicitations', '0'],
];

function errnoOf(cause: unknown): string {
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EIO';
}

/** Reads `net.ipv6.conf.NAME.KEY`, or undefined when the kernel (or namespace) lacks it. */
export function readIpv6Sysctl(name: string, key: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/net/ipv6/conf/${name}/${key}`, 'latin1').trim();
  } catch {
    return undefined;
  }
}

/**
 * One `net.ipv6.conf.NAME.KEY` sysctl as a setting. `absent` is what a missing file reads as:
 * for `disable_ipv6=1` a kernel without IPv6 already is as wanted.
 */
export function sysctlSetting(name: string, key: string, wanted: string, required: boolean, absent = 'none'): Setting {
  const path = `/proc/sys/net/ipv6/conf/${name}/${key}`;
  return {
    what: key,
    wanted,
    required,
    syscall: 'open',
    fix: `sysctl -w net.ipv6.conf.${name}.${key}=${wanted}`,
    current: () => readIpv6Sysctl(name, key) ?? absent,
    apply() {
      try {
        writeFileSync(path, wanted);
        return undefined;
      } catch (cause) {
        return errnoOf(cause);
      }
    },
  };
}

/** The interface index of `name` (SIOCGIFINDEX on the control socket). */
function interfaceIndex(sock: number, name: string): number {
  const ifr = ifreqWithName(name);
  const r = ioctl(sock, SIOCGIFINDEX, ifr);
  if (r.value < 0) throw configError('ioctl(SIOCGIFINDEX)', r.errno ?? 'EIO', ` for '${name}'`);
  return ifreqInt(ifr);
}

/** Lines of a /proc/net table split into fields, empty when it is missing (no IPv6). */
function procTable(path: string): string[][] {
  try {
    return readFileSync(path, 'latin1').split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/));
  } catch {
    return [];
  }
}

/**
 * The address `address` on interface `name` as /proc/net/if_inet6 lists it (address, index,
 * prefix length, scope, flags, name, all hex): its text, `' (tentative)'` added while it is, or
 * `'none'`.
 */
export function findAddress6(name: string, address: Uint8Array): string {
  const hex = ipv6Hex(address);
  const line = procTable('/proc/net/if_inet6').find((f) => f[0] === hex && f[5] === name);
  if (line === undefined) return 'none';
  const tentative = (parseInt(line[4] ?? '0', 16) & IFA_F_TENTATIVE) !== 0;
  return `${formatIpv6(address)}${tentative ? ' (tentative)' : ''}`;
}

/**
 * Whether /proc/net/ipv6_route (destination, length, source, length, next hop, metric, refs,
 * use, flags, device) has a route to `destination/128` out of `name`.
 */
export function hasHostRoute6(name: string, destination: Uint8Array): boolean {
  const hex = ipv6Hex(destination);
  return procTable('/proc/net/ipv6_route').some((f) => f[0] === hex && f[1] === '80' && f[9] === name);
}

/**
 * How long to wait for the kernel's own route to `peer6` after adding the address in the
 * point-to-point form, in ms. The kernel adds it once the interface is ready for addrconf, which
 * follows the carrier through the link-watch work queue: right after `up` it may not be yet (seen
 * in about one run in ten under load), and then the route appears a few milliseconds later.
 */
const PEER_ROUTE_WAIT_MS = 1000;

/** Sleeps the thread `ms` milliseconds (set-up code only, never the packet path). */
function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** {@link hasHostRoute6}, polled every 5 ms for up to `waitMs` until it holds. */
function waitForHostRoute6(name: string, destination: Uint8Array, waitMs: number): boolean {
  const deadline = performance.now() + waitMs;
  for (;;) {
    if (hasHostRoute6(name, destination)) return true;
    if (performance.now() >= deadline) return false;
    sleepMs(5);
  }
}

/**
 * The IPv6 settings that go before the interface is brought up: with `address6`, the quiet
 * sysctls (tuning: a refusal is skipped with a warning) and then IPv6 on (required); without it,
 * IPv6 off when `disableIpv6` (today's behaviour).
 */
export function ipv6SettingsBeforeUp(name: string, options: ResolvedTunOptions): Setting[] {
  if (options.address6 === undefined) {
    return options.disableIpv6 ? [sysctlSetting(name, 'disable_ipv6', '1', options.disableIpv6Required, '1')] : [];
  }
  // The quiet settings first: enabling IPv6 on an interface that is already up would otherwise
  // make its link-local address at once.
  const list = QUIET_IPV6_SYSCTLS.map(([key, value]) => sysctlSetting(name, key, value, false));
  list.push(sysctlSetting(name, 'disable_ipv6', '0', true));
  return list;
}

/**
 * The address and route, after the interface is up (so the address is usable at once; it also
 * carries IFA_F_NODAD, as `ip addr add … nodad`, so it is never tentative, RFC 4862 §5.4). The
 * peer form makes the kernel add the host route to `peer6` itself; the route setting then finds
 * it and does nothing, and adds it only to an address root made without a peer.
 */
export function ipv6SettingsAfterUp(sock: number, name: string, options: ResolvedTunOptions): Setting[] {
  const address = options.address6;
  if (address === undefined) return [];
  const peer = options.peer6;
  const a = formatIpv6(address);
  let added = false;
  const list: Setting[] = [{
    what: 'address6',
    wanted: a,
    required: true,
    syscall: 'rtnetlink(RTM_NEWADDR)',
    fix: peer === undefined ? `ip -6 addr add ${a}/128 dev ${name} nodad` : `ip -6 addr add ${a} peer ${formatIpv6(peer)} dev ${name} nodad`,
    current: () => findAddress6(name, address),
    apply() {
      const errno = rtnetlinkRequest(newAddressMessage(interfaceIndex(sock, name), address, peer));
      added = errno === undefined;
      return errno;
    },
  }];
  if (peer !== undefined) {
    const p = formatIpv6(peer);
    list.push({
      what: 'route6',
      wanted: `${p}/128 dev ${name}`,
      required: true,
      syscall: 'rtnetlink(RTM_NEWROUTE)',
      fix: `ip -6 route add ${p}/128 dev ${name}`,
      current: () => (waitForHostRoute6(name, peer, added ? PEER_ROUTE_WAIT_MS : 0) ? `${p}/128 dev ${name}` : 'none'),
      apply: () => rtnetlinkRequest(newHostRouteMessage(interfaceIndex(sock, name), peer)),
    });
  }
  return list;
}

/** What the interface's IPv6 looks like after `openTun()` (`TunConfiguration.ipv6`). */
export interface TunIpv6Status {
  /** The kernel side's address (`address6`), RFC 5952 text. */
  readonly address: string;
  /** Our address (`peer6`), to which the kernel routes, or undefined. */
  readonly peer: string | undefined;
  /**
   * The per-interface sysctls read back after configuration (`disable_ipv6`, `addr_gen_mode`,
   * `accept_ra`, `router_solicitations`), `'none'` where the kernel lacks one. A value other
   * than the wanted one means changing it was refused (see `skipped`).
   */
  readonly sysctls: Readonly<Record<string, string>>;
}

/** Reads the IPv6 status of interface `name` for the options given, or undefined without `address6`. */
export function readIpv6Status(name: string, options: ResolvedTunOptions): TunIpv6Status | undefined {
  if (options.address6 === undefined) return undefined;
  const sysctls: Record<string, string> = {};
  for (const key of ['disable_ipv6', ...QUIET_IPV6_SYSCTLS.map(([k]) => k)]) sysctls[key] = readIpv6Sysctl(name, key) ?? 'none';
  return Object.freeze({
    address: formatIpv6(options.address6),
    peer: options.peer6 === undefined ? undefined : formatIpv6(options.peer6),
    sysctls: Object.freeze(sysctls),
  });
}
