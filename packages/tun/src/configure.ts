/**
 * Creating or attaching the TUN device and configuring its interface, with ioctls through
 * ffi-rs and sysctls through node:fs. No `ip` command is run.
 *
 * Order matters: IPv6 is turned off before the interface goes up, or the kernel sends router
 * solicitations (and DAD probes) into the device the moment it is up.
 */
import { closeSync, constants, openSync, writeFileSync } from 'node:fs';
import { configError, TunError } from './errors.js';
import {
  AF_INET, IfFlags, Ioctl, type IoctlName, ifreqFlags, ifreqName, ifreqWithName, prefixToMask,
  setIfreqAddress, setIfreqFlags, setIfreqInt, TunOffload,
} from './ifreq.js';
import { ioctl, ioctlValue, socket, SOCK_CLOEXEC, SOCK_DGRAM } from './libc.js';
import { LITTLE_ENDIAN, VNET_HEADER_SIZE } from './vnet.js';
import { formatIpv4, type ResolvedTunOptions } from './options.js';

/** Path of the TUN clone device. */
export const TUN_CLONE_PATH = '/dev/net/tun';

/** An open TUN fd and the interface name the kernel gave it. */
export interface AttachedTun {
  readonly fd: number;
  readonly name: string;
}

function nodeErrorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EIO';
}

/**
 * Opens /dev/net/tun non-blocking and binds it to interface `name` with TUNSETIFF
 * (`IFF_TUN | IFF_NO_PI`, plus `IFF_VNET_HDR` with `offload`): creates the device, or attaches
 * to an existing TUN device of that name that no other process holds. Then sets the offloads:
 * CSUM|TSO4 with a 10-byte header when `offload`, none otherwise (a persistent device keeps the
 * offloads of its last user, and without the header we could not tell a super-segment).
 */
export function attachTun(name: string, offload = false): AttachedTun {
  let fd: number;
  try {
    // libuv adds O_CLOEXEC itself.
    fd = openSync(TUN_CLONE_PATH, constants.O_RDWR | constants.O_NONBLOCK);
  } catch (cause) {
    const errno = nodeErrorCode(cause);
    if (errno === 'ENOENT' || errno === 'ENODEV' || errno === 'ENXIO') {
      throw new TunError('ERR_TUN_NO_DEVICE', `${TUN_CLONE_PATH} is missing (${errno}): load the tun module (modprobe tun)`, {
        errno, syscall: 'open', cause,
      });
    }
    if (errno === 'EPERM' || errno === 'EACCES') {
      throw new TunError('ERR_TUN_PERMISSION', `cannot open ${TUN_CLONE_PATH} (${errno}): needs CAP_NET_ADMIN: run as root or grant the capability`, {
        errno, syscall: 'open', cause,
      });
    }
    throw new TunError('ERR_TUN_CONFIG', `cannot open ${TUN_CLONE_PATH}: ${errno}`, { errno, syscall: 'open', cause });
  }
  const ifr = ifreqWithName(name);
  setIfreqFlags(ifr, IfFlags.IFF_TUN | IfFlags.IFF_NO_PI | (offload ? IfFlags.IFF_VNET_HDR : 0));
  const r = ioctl(fd, Ioctl.TUNSETIFF, ifr);
  if (r.value < 0) {
    closeSync(fd);
    const errno = r.errno ?? 'EIO';
    const syscall = 'ioctl(TUNSETIFF)';
    if (errno === 'EBUSY') {
      throw new TunError('ERR_TUN_BUSY', `TUN device '${name}' is in use by another process (EBUSY)`, { errno, syscall });
    }
    if (errno === 'EINVAL') {
      throw configError(syscall, errno, `: '${name}' may exist as a non-TUN device (TAP, multi-queue or other type)`);
    }
    throw configError(syscall, errno, ` for '${name}'`);
  }
  try {
    setOffloads(fd, offload);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return { fd, name: ifreqName(ifr) };
}

/** TUNSETVNETHDRSZ (10) and TUNSETOFFLOAD (CSUM|TSO4) when `offload`, else TUNSETOFFLOAD(0). */
function setOffloads(fd: number, offload: boolean): void {
  if (offload) {
    // 10 is the kernel's default, but the size belongs to the device: a persistent one may
    // have been left with another (e.g. 12 for virtio_net_hdr_mrg_rxbuf).
    const size = new Uint8Array(4);
    new DataView(size.buffer).setInt32(0, VNET_HEADER_SIZE, LITTLE_ENDIAN);
    const r = ioctl(fd, Ioctl.TUNSETVNETHDRSZ, size);
    if (r.value < 0) throw configError('ioctl(TUNSETVNETHDRSZ)', r.errno ?? 'EIO', ` (${VNET_HEADER_SIZE})`);
  }
  const flags = offload ? TunOffload.TUN_F_CSUM | TunOffload.TUN_F_TSO4 : 0;
  const r = ioctlValue(fd, Ioctl.TUNSETOFFLOAD, flags);
  if (r.value < 0) throw configError('ioctl(TUNSETOFFLOAD)', r.errno ?? 'EIO', ` (0x${flags.toString(16)})`);
}

/** Runs one configuration ioctl on `sock`, throwing `ERR_TUN_CONFIG`/`ERR_TUN_PERMISSION`. */
function ifIoctl(sock: number, which: IoctlName, ifr: Uint8Array, detail: string): void {
  const r = ioctl(sock, Ioctl[which], ifr);
  if (r.value < 0) throw configError(`ioctl(${which})`, r.errno ?? 'EIO', detail === '' ? '' : ` (${detail})`);
}

/** Writes "1" to the interface's disable_ipv6 sysctl; a kernel without IPv6 needs nothing. */
export function disableIpv6(name: string): void {
  const path = `/proc/sys/net/ipv6/conf/${name}/disable_ipv6`;
  try {
    writeFileSync(path, '1');
  } catch (cause) {
    const errno = nodeErrorCode(cause);
    if (errno === 'ENOENT') return;
    if (errno === 'EPERM' || errno === 'EACCES' || errno === 'EROFS') {
      throw new TunError('ERR_TUN_PERMISSION', `cannot write ${path} (${errno}): needs CAP_NET_ADMIN and a writable /proc/sys`, {
        errno, syscall: 'open', cause,
      });
    }
    throw new TunError('ERR_TUN_CONFIG', `cannot write ${path}: ${errno}`, { errno, syscall: 'open', cause });
  }
}

/**
 * Applies the options to interface `name`: IPv6 off, MTU, transmit queue length, address, peer,
 * netmask, then up. The ioctls go through a throwaway AF_INET datagram socket, as ifconfig does.
 */
export function configureInterface(name: string, options: ResolvedTunOptions): void {
  if (options.disableIpv6) disableIpv6(name);
  const s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC);
  if (s.value < 0) throw configError('socket(AF_INET, SOCK_DGRAM)', s.errno ?? 'EIO');
  const sock = s.value;
  try {
    let ifr = ifreqWithName(name);
    setIfreqInt(ifr, options.mtu);
    ifIoctl(sock, 'SIOCSIFMTU', ifr, `mtu ${options.mtu}`);

    ifr = ifreqWithName(name);
    setIfreqInt(ifr, options.txQueueLen);
    ifIoctl(sock, 'SIOCSIFTXQLEN', ifr, `txQueueLen ${options.txQueueLen}`);
    if (options.address !== undefined) {
      // A TUN device is IFF_POINTOPOINT, so SIOCSIFADDR gives the address a /32 (no classful mask).
      ifr = ifreqWithName(name);
      setIfreqAddress(ifr, options.address);
      ifIoctl(sock, 'SIOCSIFADDR', ifr, formatIpv4(options.address));
    }
    if (options.peer !== undefined) {
      ifr = ifreqWithName(name);
      setIfreqAddress(ifr, options.peer);
      ifIoctl(sock, 'SIOCSIFDSTADDR', ifr, formatIpv4(options.peer));
    }
    if (options.prefixLength !== undefined) {
      ifr = ifreqWithName(name);
      setIfreqAddress(ifr, prefixToMask(options.prefixLength));
      ifIoctl(sock, 'SIOCSIFNETMASK', ifr, `/${options.prefixLength}`);
    }
    if (options.up) {
      ifr = ifreqWithName(name);
      ifIoctl(sock, 'SIOCGIFFLAGS', ifr, '');
      // IFF_RUNNING is reported by the kernel from the carrier; setting it is harmless and
      // documents what we expect to see.
      setIfreqFlags(ifr, ifreqFlags(ifr) | IfFlags.IFF_UP | IfFlags.IFF_RUNNING);
      ifIoctl(sock, 'SIOCSIFFLAGS', ifr, 'up');
    }
  } finally {
    closeSync(sock);
  }
}
