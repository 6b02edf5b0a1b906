/**
 * The receive legs of a stack, one per family it has an address of: the IPv4 leg (ipv4-in.ts
 * with ICMP in icmpv4-in.ts) and the IPv6 leg (ipv6-in.ts with ICMPv6 in icmpv6-in.ts), each
 * wired to its family's egress and to the stack's shared parts (counters, drops, the connection
 * table, the drain, the timer). Kept out of the stack's constructor so the wiring of each family
 * reads in one place.
 */
import { Icmpv6RateLimiter, type Ipv4Reassembler, type Ipv6Address, type Ipv6Reassembler } from '@tcp-tun/ip';
import type { Instant, IpAddress } from '@tcp-tun/tcp';
import type { Icmpv4Context } from './icmpv4-in.js';
import type { Icmpv6Context } from './icmpv6-in.js';
import type { ConnectionEntry } from './internal.js';
import type { Ipv4Egress } from './ipv4-egress.js';
import { Ipv4Ingress } from './ipv4-in.js';
import type { Ipv6Egress } from './ipv6-egress.js';
import { Ipv6Ingress } from './ipv6-in.js';
import type { Ipv6Counters, StackCounters } from './stack-stats.js';
import type { StackTimer } from './stack-timer.js';

/** RFC 4443 §2.4 (f): the token bucket of the ICMPv6 errors a stack originates. */
const ICMPV6_ERRORS_PER_SECOND = 100;
const ICMPV6_ERROR_BURST = 50;

/** What the legs need from the stack. */
export interface LegDeps {
  readonly addr4: number | undefined;
  readonly addr6: Ipv6Address | undefined;
  readonly egress4: Ipv4Egress | undefined;
  readonly egress6: Ipv6Egress | undefined;
  readonly mtu: number;
  readonly counters: StackCounters;
  readonly counters6: Ipv6Counters;
  readonly reassembler: Ipv4Reassembler;
  readonly reassembler6: Ipv6Reassembler;
  readonly timer: StackTimer;
  drop(reason: string): void;
  countExpired(before: number): void;
  connection(remoteAddr: IpAddress, remotePort: number, localPort: number): ConnectionEntry | undefined;
  schedule(entry: ConnectionEntry): void;
  /**
   * The stack's TCP input: the segment `bytes[start, end)` from `src` to our address `local`
   * (the stack's own object, or `::1`), with the IP ECN codepoint `ecn`; `checksumTrusted` when
   * the link vouched for its TCP checksum (link.ts `LinkReceiver`); `checksumVerified` when the
   * IP leg has already summed it and found it good (ipv6-in.ts `tcpSumsInPlace`).
   */
  receiveTcp(
    now: Instant,
    src: IpAddress,
    ecn: number,
    bytes: Uint8Array,
    start: number,
    end: number,
    local: IpAddress,
    checksumTrusted: boolean,
    checksumVerified: boolean,
  ): void;
}

/** The legs of the families the stack has an address of (undefined for the others). */
export function createIngressLegs(d: LegDeps): { ipv4: Ipv4Ingress | undefined; ipv6: Ipv6Ingress | undefined } {
  let ipv4: Ipv4Ingress | undefined;
  let ipv6: Ipv6Ingress | undefined;
  const { addr4, addr6, egress4, egress6 } = d;
  if (addr4 !== undefined && egress4 !== undefined) {
    const icmp: Icmpv4Context = {
      address: addr4,
      mtu: d.mtu,
      counters: d.counters,
      drop: (reason) => d.drop(reason),
      connection: (remoteAddr, remotePort, localPort) => d.connection(remoteAddr, remotePort, localPort),
      schedule: (entry) => d.schedule(entry),
      sendIcmp: (remote, repr) => egress4.sendIcmp(remote, repr),
    };
    ipv4 = new Ipv4Ingress({
      address: addr4,
      counters: d.counters,
      reassembler: d.reassembler,
      timer: d.timer,
      icmp,
      drop: (reason) => d.drop(reason),
      countExpired: (before) => d.countExpired(before),
      receiveTcp: (now, ip, bytes, start, end, trusted) => d.receiveTcp(now, ip.src, ip.ecn, bytes, start, end, addr4, trusted, false),
    });
  }
  if (addr6 !== undefined && egress6 !== undefined) {
    const icmp6: Icmpv6Context = {
      address: addr6,
      mtu: d.mtu,
      counters: d.counters,
      counters6: d.counters6,
      limiter: new Icmpv6RateLimiter({ ratePerSecond: ICMPV6_ERRORS_PER_SECOND, burst: ICMPV6_ERROR_BURST }),
      drop: (reason) => d.drop(reason),
      connection: (remoteAddr, remotePort, localPort) => d.connection(remoteAddr, remotePort, localPort),
      schedule: (entry) => d.schedule(entry),
      sendIcmp: (src, dst, repr) => egress6.sendIcmp(src, dst, repr),
    };
    ipv6 = new Ipv6Ingress({
      address: addr6,
      counters: d.counters,
      counters6: d.counters6,
      reassembler: d.reassembler6,
      timer: d.timer,
      icmp: icmp6,
      drop: (reason) => d.drop(reason),
      // The listener and connection keep the local address: the leg passes our own (stable)
      // objects, never the parse target's.
      receiveTcp: (now, src, local, ecn, bytes, start, end, trusted, verified) => d.receiveTcp(now, src, ecn, bytes, start, end, local, trusted, verified),
    });
  }
  return { ipv4, ipv6 };
}
