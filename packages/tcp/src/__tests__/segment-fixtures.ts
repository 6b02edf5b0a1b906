/**
 * Packets captured from the Linux kernel (6.x) through a TUN device inside a private network
 * namespace: the kernel at 10.0.0.1, a made-up peer at 10.0.0.2. Hex strings exactly as read
 * from the TUN file descriptor (IFF_TUN | IFF_NO_PI), i.e. whole IPv4 datagrams; the TCP segment starts at octet 20.
 */

/** Decodes a hex string into bytes. */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Copies `bytes` into a larger buffer at `offset` (filled with 0xee) and returns that view. */
export function atOffset(bytes: Uint8Array, offset: number): Uint8Array {
  const buf = new Uint8Array(bytes.length + offset + 7).fill(0xee);
  buf.set(bytes, offset);
  return buf.subarray(offset, offset + bytes.length);
}

/** `connect(10.0.0.2:80)`: TCP SYN with MSS 1460, SACK-Permitted, timestamps, NOP, window scale 10. */
export const KERNEL_TCP_SYN = hex(
  '4500003ce4ce4000400641eb0a0000010a000002c16600509319e13d00000000a002faf05a270000020405b40402080a' +
  '4fe758ed000000000103030a',
);

/** The kernel's SYN-ACK (port 8080) to a SYN we wrote (seq 1000, MSS 1460, SACK-Permitted, TS 12345, WS 7). */
export const KERNEL_TCP_SYN_ACK = hex(
  '4500003c00004000400626ba0a0000010a0000021f909c40754e9d4c000003e9a012fe88bf770000020405b40402080a' +
  '107962e3000030390103030a',
);

/** The kernel's RST+ACK to a SYN we wrote (seq 5000) for closed port 81. */
export const KERNEL_TCP_RST_ACK = hex(
  '4500002800004000400626ce0a0000010a00000200519c41000000000000138950140000ebb20000',
);

/*
 * IPv6, captured the same way (Linux 6.x, a TUN device in a private namespace, IFF_TUN |
 * IFF_NO_PI, no offloads, so every checksum is complete): the kernel at fd00::1, a made-up peer
 * at fd00::2. Whole IPv6 packets (40-octet header, no extension headers); the TCP segment starts
 * at octet 40.
 */

/** `connect([fd00::2]:80)`: SYN with MSS 1440 (1500 − 60), SACK-Permitted, timestamps, NOP, window scale 10; flow label 0xc89a0. */
export const KERNEL_TCP6_SYN = hex(
  '600c89a000280640fd000000000000000000000000000001fd000000000000000000000000000002' +
  'c2f40050eba5048f00000000a002fd20fbda0000020405a00402080a94840d13000000000103030a',
);

/** The kernel's SYN-ACK (port 8080) to a SYN we wrote (seq 1000, MSS 1440, SACK-Permitted, TS 12345, WS 7). */
export const KERNEL_TCP6_SYN_ACK = hex(
  '600538e000280640fd000000000000000000000000000001fd000000000000000000000000000002' +
  '1f909c407ffca976000003e9a012fb04c1b80000020405a00402080aa648d190000030390103030a',
);
