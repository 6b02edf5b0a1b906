/**
 * The stack's listening ports: one sans-IO `TcpListener` per port and family slot (SYNs, backlog, SYN cookies
 * keyed by the stack's secret), the connections each has born and not yet handed over, and the
 * SYN-cookie counters of listeners that have closed (so `stats()` keeps counting them).
 */
import { debuglog } from 'node:util';
import {
  IPV6_LOOPBACK,
  IPV6_UNSPECIFIED,
  ipv4FromMapped,
  ipv4FromString,
  ipv6Equals,
  ipv6FromString,
  isIpv4Mapped,
  isIpv4String,
  isIpv6Loopback,
  isIpv6String,
  isIpv6Unspecified,
  type Ipv6Address,
} from '@tcp-tun/ip';
import { TcpListener, type IpAddress, type TcpConfig } from '@tcp-tun/tcp';
import { SystemError } from './errors.js';
import type { ListenerOwner } from './handle.js';
import type { ConnectionEntry, ListenerEntry } from './internal.js';
import type { StackSecrets } from './secrets.js';
import type { CookieCounters } from './stack-stats.js';

const debug = debuglog('tcp-tun');

/** What a listen call resolved to: the families a listener takes and the address it is bound to. */
interface Binding {
  readonly v4: boolean;
  readonly v6: boolean;
  readonly addr: IpAddress;
}

/**
 * Listening ports by number, one slot per family: a listener on `0.0.0.0` or our IPv4 address
 * fills the IPv4 slot of its port, one on our IPv6 address (or `::1`) or on `::` with
 * `ipv6Only` the IPv6 slot, one on `::` both. A port whose slot is taken refuses another
 * listener with EADDRINUSE, as Linux does: `::` and `0.0.0.0` on one port conflict unless the
 * first is IPv6-only (its `bindv6only` rule, inet6_bind_conflict).
 */
export class ListenerTable {
  /** SYN-cookie counters of listeners that have closed (live ones are summed in stats()). */
  readonly closedCookies: CookieCounters = { sent: 0, accepted: 0, rejected: 0, stray: 0 };
  readonly #all = new Set<ListenerEntry>();
  readonly #v4 = new Map<number, ListenerEntry>();
  readonly #v6 = new Map<number, ListenerEntry>();
  readonly #address: number | undefined;
  readonly #address6: Ipv6Address | undefined;
  readonly #addressString: string;
  readonly #tcpConfig: TcpConfig;
  readonly #secrets: StackSecrets;
  readonly #schedule: (entry: ConnectionEntry) => void;

  /** @param schedule queues a connection for the drain (an aborted embryo's RST). */
  constructor(
    address: number | undefined,
    address6: Ipv6Address | undefined,
    addressString: string,
    tcpConfig: TcpConfig,
    secrets: StackSecrets,
    schedule: (entry: ConnectionEntry) => void,
  ) {
    this.#address = address;
    this.#address6 = address6;
    this.#addressString = addressString;
    this.#tcpConfig = tcpConfig;
    this.#secrets = secrets;
    this.#schedule = schedule;
  }

  /** Every live listener (read-only). */
  get entries(): ReadonlySet<ListenerEntry> {
    return this.#all;
  }

  /** Whether `port` has a listener (of `family`, or of either when not given). */
  has(port: number, family?: 4 | 6): boolean {
    if (family === 4) return this.#v4.has(port);
    if (family === 6) return this.#v6.has(port);
    return this.#v4.has(port) || this.#v6.has(port);
  }

  /** The listener a segment of `family` to `port` goes to. */
  get(port: number, family: 4 | 6): ListenerEntry | undefined {
    return family === 4 ? this.#v4.get(port) : this.#v6.get(port);
  }

  /**
   * Starts listening on `host`:`port` (0: an ephemeral port) for `owner`. `host` is `'::'`
   * (both families, or IPv6 only with `ipv6Only`), `'0.0.0.0'` (IPv4), or one of our addresses
   * (`127.0.0.1` stands for our IPv4 address, as the socket layer maps it; `::1` takes
   * loopback connections only).
   * @throws SystemError EADDRINUSE when the port's slot is taken, EADDRNOTAVAIL when `host` is not ours.
   */
  listen(owner: ListenerOwner, port: number, backlog: number, host: string, ipv6Only = false): ListenerEntry {
    const binding = this.#bind(host, ipv6Only, port);
    const taken = (q: number): boolean => (binding.v4 && this.#v4.has(q)) || (binding.v6 && this.#v6.has(q));
    let p = port;
    if (p === 0) {
      // The port-choice hash keys on our address as before (IPv4 first): the ports an
      // IPv4-only stack picks do not change.
      const local: IpAddress = this.#address ?? this.#address6 ?? 0;
      const chosen = this.#secrets.ports.choose(local, 0, 0, (q) => !this.#v4.has(q) && !this.#v6.has(q));
      if (chosen === undefined) throw new SystemError('EADDRINUSE', 'listen', host, 0);
      p = chosen;
    } else if (taken(p)) {
      throw new SystemError('EADDRINUSE', 'listen', host, p);
    }
    const secrets = this.#secrets;
    const listener = new TcpListener<IpAddress>({
      local: { addr: binding.addr, port: p },
      backlog,
      config: this.#tcpConfig,
      isn: (now, local, remote) => secrets.isn.isn(now, local, remote),
      tsOffset: (_now, local, remote) => secrets.isn.tsOffset(local, remote),
      // RFC 4987 §3.6: a full listener answers with SYN cookies and keeps no state, so a SYN
      // flood cannot lock real clients out; the stack's secret keys the cookie hash.
      synCookies: true,
      cookieHash: (a, b, c, d) => secrets.cookieHash.hash(a, b, c, d, 4),
    });
    const entry: ListenerEntry = { port: p, listener, owner, embryos: new Map(), closed: false, localEnd4: undefined, localEnd6: undefined, v4: binding.v4, v6: binding.v6, host };
    if (binding.v4) this.#v4.set(p, entry);
    if (binding.v6) this.#v6.set(p, entry);
    this.#all.add(entry);
    if (debug.enabled) debug('listen %s:%d backlog %d', binding.v6 ? host : this.#addressString, p, backlog);
    return entry;
  }

  /** What `host` means on this stack (see {@link listen}). */
  #bind(host: string, ipv6Only: boolean, port: number): Binding {
    const v4 = this.#address;
    const v6 = this.#address6;
    // An IPv4 listener is bound to our address, as it always was (its ISN key derives from it).
    const v4Addr: IpAddress = v4 ?? 0;
    if (host === '::') return { v4: !ipv6Only, v6: true, addr: IPV6_UNSPECIFIED };
    if (isIpv4String(host)) {
      if (host === '0.0.0.0' || host.startsWith('127.') || (v4 !== undefined && ipv4FromString(host) === v4)) return { v4: true, v6: false, addr: v4Addr };
    } else if (isIpv6String(host)) {
      const a = ipv6FromString(host);
      if (isIpv6Unspecified(a)) return { v4: !ipv6Only, v6: true, addr: IPV6_UNSPECIFIED };
      if (isIpv6Loopback(a)) return { v4: false, v6: true, addr: IPV6_LOOPBACK };
      if (v6 !== undefined && ipv6Equals(a, v6)) return { v4: false, v6: true, addr: v6 };
      // `::ffff:a.b.c.d` names an IPv4 address (RFC 4291 §2.5.5.2), as Linux binds it.
      if (isIpv4Mapped(a) && v4 !== undefined && ipv4FromMapped(a) === v4) return { v4: true, v6: false, addr: v4Addr };
    }
    throw new SystemError('EADDRNOTAVAIL', 'listen', host, port);
  }

  /**
   * Stops a listener: no new connections; embryonic ones and those not yet accepted are
   * aborted (RST), as closing a listening socket does.
   */
  unlisten(l: ListenerEntry): void {
    if (l.closed) return;
    l.closed = true;
    if (this.#all.delete(l)) {
      if (this.#v4.get(l.port) === l) this.#v4.delete(l.port);
      if (this.#v6.get(l.port) === l) this.#v6.delete(l.port);
      const ls = l.listener.stats;
      this.closedCookies.sent += ls.synCookiesSent;
      this.closedCookies.accepted += ls.synCookiesAccepted;
      this.closedCookies.rejected += ls.synCookiesRejected;
      this.closedCookies.stray += ls.strayAcks;
    }
    for (const e of [...l.embryos.values()]) {
      e.listener = undefined;
      e.orphan = true;
      e.conn.abort();
      this.#schedule(e);
    }
    l.embryos.clear();
  }
}
