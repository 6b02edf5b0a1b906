/**
 * Creating or attaching the TUN device and configuring its interface, with ioctls through
 * ffi-rs, sysctls through node:fs and rtnetlink through a netlink socket. No `ip` command is run.
 *
 * Order matters: IPv6 is turned off (or, with `address6`, quietened: configure6.ts) before the
 * interface goes up, or the kernel sends router solicitations into the device the moment it is
 * up. IPv6 addresses and routes go through rtnetlink (netlink.ts): no ioctl sets `nodad`.
 */
import { closeSync, constants, openSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { configError, TunError } from './errors.js';
import {
  AF_INET, IfFlags, Ioctl, type IoctlName, ifreqAddress, ifreqFlags, ifreqInt, ifreqName, ifreqWithName, prefixToMask,
  setIfreqAddress, setIfreqFlags, setIfreqInt, TunOffload,
} from './ifreq.js';
import { ioctl, ioctlValue, socket, SOCK_CLOEXEC, SOCK_DGRAM } from './libc.js';
import { LITTLE_ENDIAN, VNET_HEADER_SIZE } from './vnet.js';
import { formatIpv4, type ResolvedTunOptions } from './options.js';
import { ipv6SettingsAfterUp, ipv6SettingsBeforeUp, readIpv6Status, type TunIpv6Status } from './configure6.js';

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
 * CSUM|TSO4|TSO6 with a 10-byte header when `offload`, none otherwise (a persistent device keeps the
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
      // Opening the clone device grants nothing by itself (TUNSETIFF checks owner or
      // CAP_NET_ADMIN), so distributions make it 0666; a stricter mode stops every non-root user.
      throw new TunError('ERR_TUN_PERMISSION', `cannot open ${TUN_CLONE_PATH} (${errno}): this user may not open the clone device. ` +
        `Fix: as root, chmod 0666 ${TUN_CLONE_PATH} (its usual mode), or run as root`, {
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
    if (errno === 'EPERM' || errno === 'EACCES') {
      // tun_not_capable(): attaching needs the device's owner or group, or CAP_NET_ADMIN;
      // creating one needs CAP_NET_ADMIN.
      const who = currentUser();
      throw new TunError(
        'ERR_TUN_PERMISSION',
        `cannot attach TUN device '${name}' (${errno}): it does not exist or belongs to another user, and ` +
          `creating or taking it needs CAP_NET_ADMIN. Fix: as root, ip tuntap add dev ${name} mode tun user ${who} ` +
          `(then give it its address and bring it up), or run with CAP_NET_ADMIN`,
        { errno, syscall },
      );
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

/**
 * Whether a device's virtio-net offloads are on, and why not: `'off'` when they were not asked
 * for, `'unsupported'` when `offload: 'auto'` asked and the kernel refused (`reason` says which
 * ioctl and errno; the device then works as a plain one).
 */
export interface TunOffloadStatus {
  /** `'on'`: IFF_VNET_HDR, TSO4 and TSO6 in use; `'off'`: not asked for; `'unsupported'`: asked with 'auto' and refused. */
  readonly state: 'on' | 'off' | 'unsupported';
  /** With `'unsupported'`: the refusal, e.g. `ioctl(TUNSETOFFLOAD) failed: EINVAL (0x3)`. */
  readonly reason?: string;
}

/** What {@link attachTunWithFallback} opened. */
export interface AttachedTunWithStatus extends AttachedTun {
  readonly offload: TunOffloadStatus;
}

/**
 * {@link attachTun} for an `offload` mode. With `'auto'` a refusal of the offloads themselves
 * (`ERR_TUN_CONFIG`: TUNSETIFF with `IFF_VNET_HDR`, TUNSETVNETHDRSZ or TUNSETOFFLOAD failing, as on
 * a kernel without TSO4 support for TUN) is not fatal: the device is attached again without them
 * and the status says why. Permission, busy and missing-device errors are not about offloads and
 * are thrown as they are; so is a plain attach that fails as well. `attach` is for tests.
 */
export function attachTunWithFallback(
  name: string,
  offload: boolean | 'auto',
  attach: (name: string, offload: boolean) => AttachedTun = attachTun,
): AttachedTunWithStatus {
  if (offload !== 'auto') return { ...attach(name, offload), offload: { state: offload ? 'on' : 'off' } };
  try {
    return { ...attach(name, true), offload: { state: 'on' } };
  } catch (error) {
    if (!(error instanceof TunError) || error.code !== 'ERR_TUN_CONFIG') throw error;
    const plain = attach(name, false);
    return { ...plain, offload: { state: 'unsupported', reason: error.message } };
  }
}

/** TUNSETVNETHDRSZ (10) and TUNSETOFFLOAD (CSUM|TSO4|TSO6) when `offload`, else TUNSETOFFLOAD(0). */
function setOffloads(fd: number, offload: boolean): void {
  if (offload) {
    // 10 is the kernel's default, but the size belongs to the device: a persistent one may
    // have been left with another (e.g. 12 for virtio_net_hdr_mrg_rxbuf).
    const size = new Uint8Array(4);
    new DataView(size.buffer).setInt32(0, VNET_HEADER_SIZE, LITTLE_ENDIAN);
    const r = ioctl(fd, Ioctl.TUNSETVNETHDRSZ, size);
    if (r.value < 0) throw configError('ioctl(TUNSETVNETHDRSZ)', r.errno ?? 'EIO', ` (${VNET_HEADER_SIZE})`);
  }
  // TSO6 too: IPv6 TCP super-segments arrive whole (the stack's IPv6 leg takes them as IPv4's).
  const flags = offload ? TunOffload.TUN_F_CSUM | TunOffload.TUN_F_TSO4 | TunOffload.TUN_F_TSO6 : 0;
  const r = ioctlValue(fd, Ioctl.TUNSETOFFLOAD, flags);
  if (r.value < 0) throw configError('ioctl(TUNSETOFFLOAD)', r.errno ?? 'EIO', ` (0x${flags.toString(16)})`);
}

/** The user name of this process for a fix-it command, or its uid when it has no name. */
function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.geteuid?.() ?? process.getuid?.() ?? 'USER');
  }
}

/** Runs one ioctl on `sock`; returns the errno name on failure, undefined on success. */
function tryIoctl(sock: number, which: IoctlName, ifr: Uint8Array): string | undefined {
  const r = ioctl(sock, Ioctl[which], ifr);
  return r.value < 0 ? r.errno ?? 'EIO' : undefined;
}

/** Reads an `int` interface attribute (SIOCGIFMTU, SIOCGIFTXQLEN); throws `ERR_TUN_CONFIG`. */
function readInt(sock: number, name: string, which: 'SIOCGIFMTU' | 'SIOCGIFTXQLEN'): number {
  const ifr = ifreqWithName(name);
  const errno = tryIoctl(sock, which, ifr);
  if (errno !== undefined) throw configError(`ioctl(${which})`, errno, ` for '${name}'`);
  return ifreqInt(ifr);
}

/** Reads an IPv4 attribute; undefined when the interface has none (EADDRNOTAVAIL). */
function readAddress(sock: number, name: string, which: 'SIOCGIFADDR' | 'SIOCGIFDSTADDR' | 'SIOCGIFNETMASK'): number | undefined {
  const ifr = ifreqWithName(name);
  const errno = tryIoctl(sock, which, ifr);
  if (errno === 'EADDRNOTAVAIL') return undefined;
  if (errno !== undefined) throw configError(`ioctl(${which})`, errno, ` for '${name}'`);
  return ifreqAddress(ifr);
}

function readFlags(sock: number, name: string): number {
  const ifr = ifreqWithName(name);
  const errno = tryIoctl(sock, 'SIOCGIFFLAGS', ifr);
  if (errno !== undefined) throw configError('ioctl(SIOCGIFFLAGS)', errno, ` for '${name}'`);
  return ifreqFlags(ifr);
}

/** Opens the throwaway AF_INET datagram socket the interface ioctls go through, as ifconfig's. */
function withControlSocket<T>(use: (sock: number) => T): T {
  const s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC);
  if (s.value < 0) throw configError('socket(AF_INET, SOCK_DGRAM)', s.errno ?? 'EIO');
  try {
    return use(s.value);
  } finally {
    closeSync(s.value);
  }
}

/** What an unconfigured look at the interface finds (`configure: false`). */
export interface InterfaceState {
  readonly mtu: number;
  /** IFF_UP: the interface is administratively up. */
  readonly up: boolean;
}

/** Reads the interface's MTU and whether it is up; touches nothing. Needs no privilege. */
export function readInterface(name: string): InterfaceState {
  return withControlSocket((sock) => ({ mtu: readInt(sock, name, 'SIOCGIFMTU'), up: (readFlags(sock, name) & IfFlags.IFF_UP) !== 0 }));
}

/**
 * One setting of the interface: how to read it, how to change it, and the command a
 * privileged user would run instead.
 */
export interface Setting {
  /** For messages: `mtu`, `address`, ... */
  readonly what: string;
  /** The value asked for, as shown in messages. */
  readonly wanted: string;
  /** The value now, as shown (`'none'` when unset). */
  current(): string;
  /** Changes it; returns the errno name on failure. */
  apply(): string | undefined;
  /** The shell command that would change it. */
  readonly fix: string;
  /** Refusal is an error (true) or is skipped with a warning (a default that only tunes). */
  readonly required: boolean;
  /** The system call named in errors; default `set WHAT`. */
  readonly syscall?: string;
}

/**
 * A default setting that changing was refused for lack of privilege, so it was left as it was
 * (listed in `TunConfiguration.skipped`).
 */
export interface SkippedSetting {
  /** Which setting: `txqueuelen`, `disable_ipv6`, ... */
  readonly what: string;
  /** The value asked for, as shown in messages. */
  readonly wanted: string;
  /** The value the interface keeps (`'none'` when unset). */
  readonly current: string;
  /** Errno name of the refusal: `EPERM`, `EACCES` or `EROFS`. */
  readonly errno: string;
  /** The shell command a privileged user would run to apply it. */
  readonly fix: string;
}

/** What {@link configureInterface} did. */
export interface ConfigureResult {
  /** Settings changed. */
  readonly changed: readonly string[];
  /** Default settings left as they were because changing them was refused for lack of privilege. */
  readonly skipped: readonly SkippedSetting[];
  /** With `address6`: the interface's IPv6 address, peer and sysctls afterwards. */
  readonly ipv6: TunIpv6Status | undefined;
}

function isPermission(errno: string): boolean {
  return errno === 'EPERM' || errno === 'EACCES' || errno === 'EROFS';
}

/**
 * The settings `options` ask for, in the order they must be applied: MTU first (below 1280 the
 * kernel removes an interface's IPv6 state and its sysctls, RFC 8200 §5), the IPv6 sysctls
 * before up (IPv6 off, or with `address6` the quiet ones and IPv6 on), the IPv6 address and
 * route after it.
 */
function settings(sock: number, name: string, options: ResolvedTunOptions): Setting[] {
  const list: Setting[] = [];
  const intSetting = (what: string, get: 'SIOCGIFMTU' | 'SIOCGIFTXQLEN', set: IoctlName, value: number, fix: string, required: boolean): Setting => ({
    what, wanted: String(value), fix, required,
    current: () => String(readInt(sock, name, get)),
    apply() {
      const ifr = ifreqWithName(name);
      setIfreqInt(ifr, value);
      return tryIoctl(sock, set, ifr);
    },
  });
  const addressSetting = (what: string, get: 'SIOCGIFADDR' | 'SIOCGIFDSTADDR' | 'SIOCGIFNETMASK', set: IoctlName, value: number, fix: string): Setting => ({
    what, wanted: formatIpv4(value), fix, required: true,
    current() {
      const now = readAddress(sock, name, get);
      return now === undefined ? 'none' : formatIpv4(now);
    },
    apply() {
      const ifr = ifreqWithName(name);
      setIfreqAddress(ifr, value);
      return tryIoctl(sock, set, ifr);
    },
  });
  list.push(intSetting('mtu', 'SIOCGIFMTU', 'SIOCSIFMTU', options.mtu, `ip link set dev ${name} mtu ${options.mtu}`, true));
  list.push(intSetting('txqueuelen', 'SIOCGIFTXQLEN', 'SIOCSIFTXQLEN', options.txQueueLen, `ip link set dev ${name} txqueuelen ${options.txQueueLen}`, options.txQueueLenRequired));
  list.push(...ipv6SettingsBeforeUp(name, options));
  if (options.address !== undefined) {
    const a = formatIpv4(options.address);
    const addFix = options.peer !== undefined
      ? `ip addr add ${a} peer ${formatIpv4(options.peer)} dev ${name}`
      : `ip addr add ${a}/${options.prefixLength ?? 32} dev ${name}`;
    // A TUN device is IFF_POINTOPOINT, so SIOCSIFADDR gives the address a /32 (no classful mask).
    list.push(addressSetting('address', 'SIOCGIFADDR', 'SIOCSIFADDR', options.address, addFix));
    if (options.peer !== undefined) list.push(addressSetting('peer', 'SIOCGIFDSTADDR', 'SIOCSIFDSTADDR', options.peer, addFix));
    if (options.prefixLength !== undefined) {
      list.push(addressSetting('netmask', 'SIOCGIFNETMASK', 'SIOCSIFNETMASK', prefixToMask(options.prefixLength), addFix));
    }
  }
  if (options.up) {
    list.push({
      what: 'state', wanted: 'up', fix: `ip link set dev ${name} up`, required: true,
      current: () => ((readFlags(sock, name) & IfFlags.IFF_UP) !== 0 ? 'up' : 'down'),
      apply() {
        const ifr = ifreqWithName(name);
        const errno = tryIoctl(sock, 'SIOCGIFFLAGS', ifr);
        if (errno !== undefined) return errno;
        // IFF_RUNNING is reported by the kernel from the carrier; setting it is harmless and
        // documents what we expect to see.
        setIfreqFlags(ifr, ifreqFlags(ifr) | IfFlags.IFF_UP | IfFlags.IFF_RUNNING);
        return tryIoctl(sock, 'SIOCSIFFLAGS', ifr);
      },
    });
  }
  list.push(...ipv6SettingsAfterUp(sock, name, options));
  return list;
}

/**
 * Applies the options to interface `name`: MTU, transmit queue length, IPv6 off (or, with
 * `address6`, the quiet IPv6 sysctls and IPv6 on), address, peer, netmask, up, then the IPv6
 * address and the route to `peer6`. Each setting is read first and changed only when it differs, so a device
 * prepared by root for this user needs no privilege at all (least privilege: the process
 * configures only what it is asked to and allowed to). A change refused for lack of privilege is
 * an `ERR_TUN_CONFIG` naming the command that would fix it, unless the setting is a default that
 * only tunes the device (txqueuelen, disable_ipv6): that one is returned in `skipped`.
 */
export function configureInterface(name: string, options: ResolvedTunOptions): ConfigureResult {
  return withControlSocket((sock) => {
    const changed: string[] = [];
    const skipped: SkippedSetting[] = [];
    for (const setting of settings(sock, name, options)) {
      const current = setting.current();
      if (current === setting.wanted) continue;
      const errno = setting.apply();
      if (errno === undefined) {
        changed.push(setting.what);
        continue;
      }
      if (!isPermission(errno)) {
        throw new TunError('ERR_TUN_CONFIG', `cannot set ${setting.what} ${setting.wanted} on '${name}': ${errno} (the command that sets it: ${setting.fix})`, {
          errno, syscall: setting.syscall ?? `set ${setting.what}`,
        });
      }
      if (!setting.required) {
        skipped.push({ what: setting.what, wanted: setting.wanted, current, errno, fix: setting.fix });
        continue;
      }
      throw new TunError(
        'ERR_TUN_CONFIG',
        `TUN device '${name}' has ${setting.what} ${current}, wanted ${setting.wanted}, and changing it was refused ` +
          `(${errno}: needs CAP_NET_ADMIN). Fix: as root, ${setting.fix}; or run with CAP_NET_ADMIN`,
        { errno, syscall: setting.syscall ?? `set ${setting.what}` },
      );
    }
    return { changed, skipped, ipv6: readIpv6Status(name, options) };
  });
}

/** The one warning line for settings `configureInterface` skipped. */
export function skippedWarning(name: string, skipped: readonly SkippedSetting[]): string {
  const parts = skipped.map((s) => `${s.what} is ${s.current}, not ${s.wanted} (fix: ${s.fix})`);
  return `TUN device '${name}': not allowed to change defaults (${skipped[0]?.errno ?? 'EPERM'}), going on: ${parts.join('; ')}`;
}
