/**
 * The stack's egress router: one {@link TcpEgress} over the egress of each family the stack has
 * (ipv4-egress.ts, ipv6-egress.ts), picking by the remote address's type (`typeof remote ===
 * 'number'` is IPv4). The drain and the receive pipeline send through it and never ask which
 * family a connection is. A family the stack has no address of has no egress: the stack never
 * opens or accepts such a connection, so reaching it is a bug and throws.
 */
import type { IpAddress, Transmit } from '@tcp-tun/tcp';
import type { Ipv4Egress, TcpEgress } from './ipv4-egress.js';
import type { Ipv6Egress } from './ipv6-egress.js';

/** Routes each segment to the egress of its family. */
export class StackEgress implements TcpEgress {
  /** The IPv4 egress, when the stack has an IPv4 address. */
  readonly v4: Ipv4Egress | undefined;
  /** The IPv6 egress, when the stack has an IPv6 address. */
  readonly v6: Ipv6Egress | undefined;

  constructor(v4: Ipv4Egress | undefined, v6: Ipv6Egress | undefined) {
    this.v4 = v4;
    this.v6 = v6;
  }

  sendTcp(remote: IpAddress, t: Transmit): void {
    const egress = typeof remote === 'number' ? this.v4 : this.v6;
    if (egress === undefined) throw new Error(`no IPv${typeof remote === 'number' ? 4 : 6} egress`);
    egress.sendTcp(remote, t);
  }

  /** Forgets loopback packets not yet delivered, of both families (the stack is closing). */
  dropLoopback(): void {
    this.v4?.dropLoopback();
    this.v6?.dropLoopback();
  }
}
