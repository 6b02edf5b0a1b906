// The address families of `pnpm bench` (issue 13: "`pnpm bench` gains IPv6 rows"). FAMILY picks
// them: `4,6` (the default) runs every workload over IPv4 and again over IPv6, `4` over IPv4 only
// (the bench as it was), `6` over IPv6 only. The IPv6 stacks are twins of the IPv4 ones, each in
// namespaces of its own with a fresh server per rep: tcp-tun as shipped and --no-offload on an
// IPv6-only TUN (--addr6/--peer6), and the kernel ⇄ kernel over a veth pair with IPv6 addresses.
// lwIP stays IPv4 only: the lwip_tun anchor (../shared/anchors/lwip) takes an IPv4 address and
// gateway only, sets no output_ip6 on its netif and feeds every packet to ip4_input.
// Addresses are unique local ones (fd00::/8, RFC 4193), only ever inside the bench's namespaces.

/** The families FAMILY asks for, in order; throws on anything but 4 and 6. */
export function parseFamilies(text = '4,6') {
  const list = [...new Set(text.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
  if (list.length === 0 || list.some((f) => f !== '4' && f !== '6')) {
    throw new Error(`FAMILY must be 4, 6 or 4,6 (got ${JSON.stringify(text)})`);
  }
  return list.map(Number);
}

/** The addresses of the IPv6 stacks. */
export const V6 = {
  /** tcp-tun's own address (--addr6) and the kernel side of its TUN (--peer6). */
  stack: 'fd00:b::2',
  peer: 'fd00:b::1',
  /** The kernel baseline: the client's end of the veth and the server's. */
  kernelClient: 'fd00:b8::1',
  kernelServer: 'fd00:b8::2',
};

/**
 * The IPv6 twins of the IPv4 stacks `ours`, `plain` and `kernel` (same ids with a `6`, `v4`
 * naming the twin, for the IPv6/IPv4 ratios): `tag` makes the namespace names unique.
 */
export function ipv6Stacks(tag, { noOffload = true } = {}) {
  return [
    { id: 'ours6', v4: 'ours', family: 6, label: 'tcp-tun IPv6', ns: `tcptun-bench-o6-${tag}`, host: V6.stack, flags: [], http: true },
    { id: 'plain6', v4: 'plain', family: 6, label: 'tcp-tun --no-offload IPv6', ns: `tcptun-bench-p6-${tag}`, host: V6.stack, flags: ['--no-offload'], http: true, on: noOffload },
    { id: 'kernel6', v4: 'kernel', family: 6, label: 'kernel/veth IPv6', ns: `tcptun-bench-kc6-${tag}`, server: `tcptun-bench-ks6-${tag}`, host: V6.kernelServer, http: true },
  ];
}

/** `host` as it goes into a URL's authority: IPv6 literals in brackets (RFC 3986 §3.2.2). */
export function urlHost(host) {
  return host.includes(':') ? `[${host}]` : host;
}

/** The address flags of apps/echo for a stack: IPv6 only for the IPv6 twins, as shipped otherwise. */
export function echoAddressFlags(stack) {
  return stack.family === 6 ? ['--addr6', V6.stack, '--peer6', V6.peer] : [];
}

/**
 * Sysctls for a namespace of an IPv6 stack, before any interface exists: no duplicate address
 * detection (addresses usable at once, never tentative) and no router solicitations.
 */
export const IPV6_NAMESPACE_SYSCTLS = [
  'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0',
  'net.ipv6.conf.all.router_solicitations=0', 'net.ipv6.conf.default.router_solicitations=0',
];
