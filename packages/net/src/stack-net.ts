/**
 * Wires a stack's `net` API: the {@link StackPort} the socket layer talks to (open, listen,
 * hold), built from the stack's operations, and `createNetApi` over it. Kept out of the stack's
 * constructor so the socket layer's one door into the stack is visible in one place.
 */
import type { Ipv6Address } from '@tcp-tun/ip';
import type { IpAddress, TcpConfig } from '@tcp-tun/tcp';
import { listenerHandle, type ConnectionHandle, type HandleOwner, type ListenerOwner, type LookupFunction, type StackPort } from './handle.js';
import type { ListenerEntry } from './internal.js';
import { createNetApi, type NetApi } from './net-api.js';

/** The stack operations behind a `net` API. */
export interface StackOperations {
  /** Whether the stack is closing (nothing new may start). */
  closed(): boolean;
  readonly address: string | undefined;
  readonly addressNumber: number | undefined;
  readonly address6: string | undefined;
  readonly address6Bytes: Ipv6Address | undefined;
  readonly tcpConfig: TcpConfig;
  readonly lookup: LookupFunction | undefined;
  open(owner: HandleOwner, remoteAddr: IpAddress, remotePort: number, localPort: number | undefined, config?: Partial<TcpConfig>): ConnectionHandle;
  listen(owner: ListenerOwner, port: number, backlog: number, host: string, ipv6Only: boolean): ListenerEntry;
  unlisten(l: ListenerEntry): void;
  hold(delta: 1 | -1): void;
}

/** The `node:net`-shaped API over a stack's operations, and the port under it (for the stack's tests). */
export function createStackNet(ops: StackOperations): { net: NetApi; port: StackPort } {
  const port: StackPort = {
    get closed() {
      return ops.closed();
    },
    address: ops.address,
    addressNumber: ops.addressNumber,
    address6: ops.address6,
    address6Bytes: ops.address6Bytes,
    tcpConfig: ops.tcpConfig,
    lookup: ops.lookup,
    open: (owner, remoteAddr, remotePort, localPort, config) => ops.open(owner, remoteAddr, remotePort, localPort, config),
    listen: (owner, p, backlog, host, ipv6Only) => listenerHandle(ops.listen(owner, p, backlog, host, ipv6Only === true), (l) => ops.unlisten(l)),
    hold: (delta) => ops.hold(delta),
  };
  return { net: createNetApi(port), port };
}
