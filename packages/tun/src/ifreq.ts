/**
 * `struct ifreq` built by hand, and the Linux constants the set-up ioctls need. Pure byte
 * layout: no system calls here, so it is tested without privileges.
 *
 * Layout (linux/if.h, 64-bit ABIs): `char ifr_name[IFNAMSIZ]` at 0, then a union at 16 whose
 * largest member (`struct ifmap`, 24 bytes) makes the struct 40 bytes. The union members we use:
 * `short ifr_flags`, `int ifr_mtu`, `int ifr_qlen`, `struct sockaddr_in` (`sa_family_t` in host
 * order, port and address in network order).
 */
import { IFNAMSIZ } from './options.js';

/** Size of `struct ifreq` on x86_64 and aarch64. */
export const IFREQ_SIZE = 40;
/** Offset of the union in `struct ifreq`. */
const IFR_UNION = IFNAMSIZ;

/** ioctl request numbers (include/uapi/linux/if_tun.h, include/uapi/linux/sockios.h). */
export const Ioctl = {
  /** `_IOW('T', 202, int)`: attach the fd to a new or existing TUN/TAP device. */
  TUNSETIFF: 0x400454ca,
  /** `_IOW('T', 208, unsigned int)`: offloads we accept (TUN_F_*); the argument is the value itself. */
  TUNSETOFFLOAD: 0x400454d0,
  /** `_IOW('T', 216, int)`: size of the virtio-net header before each packet (IFF_VNET_HDR). */
  TUNSETVNETHDRSZ: 0x400454d8,
  SIOCGIFFLAGS: 0x8913,
  SIOCGIFADDR: 0x8915,
  SIOCGIFDSTADDR: 0x8917,
  SIOCGIFNETMASK: 0x891b,
  SIOCGIFMTU: 0x8921,
  SIOCGIFTXQLEN: 0x8942,
  SIOCSIFFLAGS: 0x8914,
  SIOCSIFDSTADDR: 0x8918,
  SIOCSIFADDR: 0x8916,
  SIOCSIFNETMASK: 0x891c,
  SIOCSIFMTU: 0x8922,
  SIOCSIFTXQLEN: 0x8943,
} as const;

/** Names of the ioctls above, for error messages. */
export type IoctlName = keyof typeof Ioctl;

/** `ifr_flags` bits (linux/if.h, linux/if_tun.h). */
export const IfFlags = {
  IFF_UP: 0x1,
  IFF_RUNNING: 0x40,
  /** TUNSETIFF: layer-3 device (IP packets, no Ethernet header). */
  IFF_TUN: 0x0001,
  /** TUNSETIFF: no 4-byte packet-information prefix: each read/write is exactly one packet. */
  IFF_NO_PI: 0x1000,
  /** TUNSETIFF: each read and write starts with a `struct virtio_net_hdr` (see vnet.ts). */
  IFF_VNET_HDR: 0x4000,
} as const;

/**
 * TUNSETOFFLOAD bits (linux/if_tun.h): what we can take from the kernel. They become the
 * device's features, so the kernel stops doing that work in software before handing us packets.
 */
export const TunOffload = {
  /** We complete partial checksums (virtio NEEDS_CSUM): NETIF_F_HW_CSUM. */
  TUN_F_CSUM: 0x01,
  /** We take TCP/IPv4 super-segments (virtio GSO_TCPV4): NETIF_F_TSO. Needs TUN_F_CSUM. */
  TUN_F_TSO4: 0x02,
  /** We take TCP/IPv6 super-segments (virtio GSO_TCPV6): NETIF_F_TSO6. Needs TUN_F_CSUM. */
  TUN_F_TSO6: 0x04,
} as const;

/** Address family of `struct sockaddr_in` (linux/socket.h). */
export const AF_INET = 2;

/** True when this machine stores multi-byte integers least significant byte first. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A zeroed `struct ifreq` with `ifr_name` set. The name must already be validated (<= 15 bytes). */
export function ifreqWithName(name: string): Uint8Array {
  const bytes = new Uint8Array(IFREQ_SIZE);
  for (let i = 0; i < name.length && i < IFNAMSIZ - 1; i++) bytes[i] = name.charCodeAt(i) & 0xff;
  return bytes;
}

/** Reads `ifr_name` (up to the first NUL): the kernel writes back the real name after TUNSETIFF. */
export function ifreqName(ifr: Uint8Array): string {
  let text = '';
  for (let i = 0; i < IFNAMSIZ; i++) {
    const c = ifr[i] ?? 0;
    if (c === 0) break;
    text += String.fromCharCode(c);
  }
  return text;
}

function view(ifr: Uint8Array): DataView {
  return new DataView(ifr.buffer, ifr.byteOffset, ifr.byteLength);
}

/** Sets `ifr_flags` (a C `short`, host order). */
export function setIfreqFlags(ifr: Uint8Array, flags: number): void {
  view(ifr).setUint16(IFR_UNION, flags & 0xffff, LITTLE_ENDIAN);
}

/** Reads `ifr_flags`. */
export function ifreqFlags(ifr: Uint8Array): number {
  return view(ifr).getUint16(IFR_UNION, LITTLE_ENDIAN);
}

/** Sets the `int` member of the union (`ifr_mtu`, `ifr_qlen`, host order). */
export function setIfreqInt(ifr: Uint8Array, value: number): void {
  view(ifr).setInt32(IFR_UNION, value, LITTLE_ENDIAN);
}

/** Reads the `int` member of the union (`ifr_mtu`, `ifr_qlen`). */
export function ifreqInt(ifr: Uint8Array): number {
  return view(ifr).getInt32(IFR_UNION, LITTLE_ENDIAN);
}

/** Reads the IPv4 address (uint32) of the `struct sockaddr_in` in the union. */
export function ifreqAddress(ifr: Uint8Array): number {
  return view(ifr).getUint32(IFR_UNION + 4, false);
}

/** Writes a `struct sockaddr_in` for `address` (uint32) into the union (`ifr_addr` and friends). */
export function setIfreqAddress(ifr: Uint8Array, address: number): void {
  const v = view(ifr);
  v.setUint16(IFR_UNION, AF_INET, LITTLE_ENDIAN);
  v.setUint16(IFR_UNION + 2, 0, false);
  v.setUint32(IFR_UNION + 4, address >>> 0, false);
}

/** Netmask for a prefix length 0..32 as uint32 (`/24` → 0xffffff00). */
export function prefixToMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}
