/**
 * IPv6 helpers for end-to-end tests: the kernel side of a TUN with IPv6 set up by hand, and a
 * three-namespace topology with a router and a 1280-octet hop for path MTU discovery over IPv6.
 * Everything happens inside namespaces the test creates (testing/netns.ts), never in the
 * machine's own; addresses are unique local ones (fd00::/8, RFC 4193).
 */
import { Namespace } from './netns.js';

/**
 * Sets the per-interface IPv6 sysctls as `openTun({ address6 })` does (no link-local address,
 * no router solicitations or advertisements, IPv6 on), brings `dev` up, then adds `address`
 * with `nodad` (usable at once, never tentative), in the point-to-point form when `peer` is
 * given. The order is the kernel's (6.18, measured): the sysctls take full effect only before
 * the interface is up (a link-local address made earlier stays), and the route to `peer/128`
 * is made only for an address added while the interface is up; added before, it never appears,
 * not even once the interface goes up. For a TUN a test prepares itself (`--no-configure`, least
 * privilege) or any other interface.
 */
export function configureKernelIpv6(ns: Namespace, dev: string, address: string, peer?: string): void {
  for (const [key, value] of [['addr_gen_mode', '1'], ['accept_ra', '0'], ['router_solicitations', '0'], ['disable_ipv6', '0']]) {
    ns.execSync('sysctl', ['-q', '-w', `net.ipv6.conf.${dev}.${key}=${value}`]);
  }
  ns.execSync('ip', ['link', 'set', 'dev', dev, 'up']);
  const where = peer === undefined ? [`${address}/128`] : [address, 'peer', peer];
  ns.execSync('ip', ['-6', 'addr', 'add', ...where, 'dev', dev, 'nodad']);
}

/**
 * A persistent TUN device `dev` made by root in `ns` (`ip tuntap add`, optionally for `user`),
 * with its MTU, the kernel side's IPv6 `address` and `peer` (ours) as {@link configureKernelIpv6}
 * sets them, and up: what a program run with `--no-configure` expects to find. The interface has
 * no carrier until a program attaches (its routes read `linkdown` till then).
 */
export function createTun6(ns: Namespace, dev: string, options: { address: string; peer: string; mtu?: number; user?: string }): void {
  ns.execSync('ip', ['tuntap', 'add', 'dev', dev, 'mode', 'tun', ...(options.user === undefined ? [] : ['user', options.user])]);
  ns.execSync('ip', ['link', 'set', 'dev', dev, 'mtu', String(options.mtu ?? 1500)]);
  configureKernelIpv6(ns, dev, options.address, options.peer);
}

/** The addresses of a {@link RouterTopology}, all in fd00::/8. */
export const ROUTER_TOPOLOGY_ADDRESSES = {
  /** The kernel's side of the stack's TUN (`--peer6`). The test's program sets it up. */
  tunKernel: 'fd00:1::1',
  /** The stack's own address (`--addr6`); the TUN's set-up routes it into the device. */
  tunStack: 'fd00:1::2',
  /** The stack namespace's end of the first veth (MTU 1500). */
  stackVeth: 'fd00:10::1',
  /** The router's end of the first veth. */
  routerUp: 'fd00:10::2',
  /** The router's end of the narrow hop (MTU `hopMtu`): it sends the packet too big messages. */
  routerDown: 'fd00:20::1',
  /** The server namespace's end of the narrow hop: where the kernel server listens. */
  server: 'fd00:20::2',
} as const;

/** Options of {@link RouterTopology.create}. */
export interface RouterTopologyOptions {
  /** MTU of the router⇄server hop, both ends (default 1280, the IPv6 minimum, RFC 8200 §5). */
  readonly hopMtu?: number;
  /**
   * The MSS the server advertises (its route's `advmss`; default 1440, what a 1500-octet path
   * gives). Without it the server would advertise hopMtu − 60 and a sender would never send a
   * packet too big for the hop: the narrow hop must be found by path MTU discovery (RFC 8201),
   * not hidden by the MSS option. `null` keeps the kernel's own.
   */
  readonly serverAdvmss?: number | null;
}

/**
 * Three namespaces in a row for path MTU discovery over IPv6:
 *
 * ```
 *  stack ns                          router ns                       server ns
 *  [tcp-tun]─TUN─kernel (forwarding)─veth 1500─(forwarding)─veth hopMtu─kernel server
 *   fd00:1::2  fd00:1::1  fd00:10::1   fd00:10::2  fd00:20::1     fd00:20::2
 * ```
 *
 * The test runs its program in `stack` (it creates the TUN with `--addr6 fd00:1::2 --peer6
 * fd00:1::1`); the stack namespace's kernel forwards between the TUN and the first veth, the
 * router forwards to the narrow hop and answers a packet too big for it with ICMPv6 Packet Too
 * Big (RFC 4443 §3.2), and a kernel server runs in `server`. Duplicate address detection is off
 * in all three (`accept_dad=0` before any interface exists), so every address, link-local ones
 * included, is usable as soon as `create` returns. `delete()` stops what was spawned in the
 * namespaces (by PID) and deletes them; the veths go with them.
 */
export class RouterTopology {
  /** The addresses, as {@link ROUTER_TOPOLOGY_ADDRESSES}. */
  readonly addresses = ROUTER_TOPOLOGY_ADDRESSES;

  private constructor(
    /** Where the program under test and its TUN run. */
    readonly stack: Namespace,
    /** The router with the narrow hop. */
    readonly router: Namespace,
    /** Where the kernel server runs. */
    readonly server: Namespace,
    /** The narrow hop's MTU. */
    readonly hopMtu: number,
  ) {}

  /** Creates the namespaces, links, addresses, routes and forwarding; deletes what it made if a step fails. */
  static create(tag: string, options: RouterTopologyOptions = {}): RouterTopology {
    const hopMtu = options.hopMtu ?? 1280;
    const advmss = options.serverAdvmss === undefined ? 1440 : options.serverAdvmss;
    const a = ROUTER_TOPOLOGY_ADDRESSES;
    const made: Namespace[] = [];
    try {
      const stack = Namespace.create(`${tag}s`);
      made.push(stack);
      const router = Namespace.create(`${tag}r`);
      made.push(router);
      const server = Namespace.create(`${tag}v`);
      made.push(server);
      for (const ns of made) {
        // Before any interface exists, so the veths' addresses are never tentative.
        ns.execSync('sysctl', ['-q', '-w', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0']);
      }
      for (const ns of [stack, router]) ns.execSync('sysctl', ['-q', '-w', 'net.ipv6.conf.all.forwarding=1']);
      // Writing `all` also set `default`: an interface made from now on (the program's TUN)
      // would start as a router's and join ff02::2 and ff05::2, which the kernel reports by
      // MLD into the TUN (two MLDv2 reports at up, measured; setting the TUN's own
      // `forwarding=0` afterwards sends two leave reports instead). Forwarding itself follows
      // `all` alone (ip6_forward), so the TUN starts as a host's and the stack sees nothing.
      stack.execSync('sysctl', ['-q', '-w', 'net.ipv6.conf.default.forwarding=0']);
      // The veths are made inside the namespaces (peer moved at creation): no name ever exists
      // in the machine's own namespace.
      stack.execSync('ip', ['link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'down0', 'netns', router.name]);
      router.execSync('ip', ['link', 'add', 'hop0', 'type', 'veth', 'peer', 'name', 'hop0', 'netns', server.name]);
      router.execSync('ip', ['link', 'set', 'dev', 'hop0', 'mtu', String(hopMtu)]);
      server.execSync('ip', ['link', 'set', 'dev', 'hop0', 'mtu', String(hopMtu)]);
      const addr = (ns: Namespace, dev: string, address: string): void => {
        ns.execSync('ip', ['-6', 'addr', 'add', `${address}/64`, 'dev', dev, 'nodad']);
        ns.execSync('ip', ['link', 'set', 'dev', dev, 'up']);
      };
      addr(stack, 'up0', a.stackVeth);
      addr(router, 'down0', a.routerUp);
      addr(router, 'hop0', a.routerDown);
      addr(server, 'hop0', a.server);
      // Routes: the server's prefix behind the router; the stack's behind the stack namespace
      // (where the program's openTun routes fd00:1::2/128 into its TUN).
      stack.execSync('ip', ['-6', 'route', 'add', 'fd00:20::/64', 'via', a.routerUp, 'dev', 'up0']);
      router.execSync('ip', ['-6', 'route', 'add', 'fd00:1::/64', 'via', a.stackVeth, 'dev', 'down0']);
      const advmssArgs = advmss === null ? [] : ['advmss', String(advmss)];
      server.execSync('ip', ['-6', 'route', 'add', 'default', 'via', a.routerDown, 'dev', 'hop0', ...advmssArgs]);
      return new RouterTopology(stack, router, server, hopMtu);
    } catch (error) {
      // Synchronous clean-up of what exists: nothing was spawned yet.
      for (const ns of made) void ns.delete();
      throw error;
    }
  }

  /** Stops every process spawned in the three namespaces (by PID) and deletes them, in order. */
  async delete(): Promise<void> {
    for (const ns of [this.stack, this.router, this.server]) await ns.delete();
  }
}
