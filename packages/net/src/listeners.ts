/**
 * The stack's listening ports: one sans-IO `TcpListener` per port (SYNs, backlog, SYN cookies
 * keyed by the stack's secret), the connections each has born and not yet handed over, and the
 * SYN-cookie counters of listeners that have closed (so `stats()` keeps counting them).
 */
import { debuglog } from 'node:util';
import { TcpListener, type TcpConfig } from '@tcp-tun/tcp';
import { SystemError } from './errors.js';
import type { ListenerOwner } from './handle.js';
import type { ConnectionEntry, ListenerEntry } from './internal.js';
import type { StackSecrets } from './secrets.js';
import type { CookieCounters } from './stack-stats.js';

const debug = debuglog('tcp-tun');

/** Listening ports by number. */
export class ListenerTable {
  /** SYN-cookie counters of listeners that have closed (live ones are summed in stats()). */
  readonly closedCookies: CookieCounters = { sent: 0, accepted: 0, rejected: 0, stray: 0 };
  readonly #map = new Map<number, ListenerEntry>();
  readonly #address: number;
  readonly #addressString: string;
  readonly #tcpConfig: TcpConfig;
  readonly #secrets: StackSecrets;
  readonly #schedule: (entry: ConnectionEntry) => void;

  /** @param schedule queues a connection for the drain (an aborted embryo's RST). */
  constructor(address: number, addressString: string, tcpConfig: TcpConfig, secrets: StackSecrets, schedule: (entry: ConnectionEntry) => void) {
    this.#address = address;
    this.#addressString = addressString;
    this.#tcpConfig = tcpConfig;
    this.#secrets = secrets;
    this.#schedule = schedule;
  }

  /** The listeners, by port (read-only). */
  get entries(): ReadonlyMap<number, ListenerEntry> {
    return this.#map;
  }

  has(port: number): boolean {
    return this.#map.has(port);
  }

  get(port: number): ListenerEntry | undefined {
    return this.#map.get(port);
  }

  /**
   * Starts listening on `port` (0: an ephemeral port) for `owner`.
   * @throws SystemError EADDRINUSE when the port has a listener.
   */
  listen(owner: ListenerOwner, port: number, backlog: number, host: string): ListenerEntry {
    let p = port;
    if (p === 0) {
      const chosen = this.#secrets.ports.choose(this.#address, 0, 0, (q) => !this.#map.has(q));
      if (chosen === undefined) throw new SystemError('EADDRINUSE', 'listen', host, 0);
      p = chosen;
    } else if (this.#map.has(p)) {
      throw new SystemError('EADDRINUSE', 'listen', host, p);
    }
    const secrets = this.#secrets;
    const listener = new TcpListener({
      local: { addr: this.#address, port: p },
      backlog,
      config: this.#tcpConfig,
      isn: (now, local, remote) => secrets.isn.isn(now, local, remote),
      tsOffset: (_now, local, remote) => secrets.isn.tsOffset(local, remote),
      // RFC 4987 §3.6: a full listener answers with SYN cookies and keeps no state, so a SYN
      // flood cannot lock real clients out; the stack's secret keys the cookie hash.
      synCookies: true,
      cookieHash: (a, b, c, d) => secrets.cookieHash.hash(a, b, c, d, 4),
    });
    const entry: ListenerEntry = { port: p, listener, owner, embryos: new Map(), closed: false };
    this.#map.set(p, entry);
    if (debug.enabled) debug('listen %s:%d backlog %d', this.#addressString, p, backlog);
    return entry;
  }

  /**
   * Stops a listener: no new connections; embryonic ones and those not yet accepted are
   * aborted (RST), as closing a listening socket does.
   */
  unlisten(l: ListenerEntry): void {
    if (l.closed) return;
    l.closed = true;
    if (this.#map.get(l.port) === l) {
      this.#map.delete(l.port);
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
