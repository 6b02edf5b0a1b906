/**
 * @tcp-tun/tun: a Linux TUN device for Node.js that moves opaque IP packets. It knows nothing
 * of IP; it is the only package with FFI and system calls.
 *
 * What this layer guarantees:
 * - `openTun()` creates or attaches a layer-3 TUN (`IFF_TUN | IFF_NO_PI`) and configures the
 *   interface with ioctls (via ffi-rs) and sysctls (via node:fs): IPv6 off before it goes up,
 *   MTU, transmit queue length (10000 by default, not the kernel's 500, which drops silently
 *   under bursts), IPv4 address, point-to-point peer, netmask, up; with `address6`/`peer6` IPv6
 *   quietened (no link-local address, no router solicitations) before up, then the IPv6 address
 *   (`nodad`, point-to-point to `peer6`) through rtnetlink. No `ip` command.
 * - Least privilege: each setting is read first and changed only where it differs, so a device
 *   root prepared for this user opens without privilege; tuning defaults it may not change are
 *   skipped with one warning; `configure: false` touches nothing. What cannot be fixed fails with
 *   `ERR_TUN_PERMISSION` / `ERR_TUN_CONFIG` naming the command that would fix it.
 * - With `offload: true` (virtio-net header, TUNSETOFFLOAD CSUM|TSO4|TSO6) the kernel hands over
 *   TCP super-segments of up to 65535 bytes and partial checksums; the device strips the header
 *   and completes the checksums, so receivers still get ordinary valid IPv4 or IPv6 packets, only
 *   larger than the MTU. Without it, offloads are turned off even on a persistent device that had them.
 * - With offload, `sendTso()` writes TCP super-packets the kernel segments (GSO send); with
 *   `bigTso` (default `'auto'`: Linux ≥ 6.3) also "BIG TCP" ones of up to 131072 octets
 *   (`MAX_BIG_TSO_PACKET`) in Linux's shapes (IPv4 Total Length 0, IPv6 jumbogram).
 * - One read is one whole packet and one `send()` is one whole packet; reads always offer at
 *   least 64 KiB, so no packet is truncated.
 * - FFI is never on the packet path: packets are read and written with `fs.readSync` and
 *   `fs.writeSync` on the main thread. A worker thread blocked in poll(2) only signals
 *   readiness, so reads never block the event loop and nothing spins while idle.
 * - Received packets arrive in batches (one receiver call per burst, at most `readBatch` per
 *   event-loop turn, so a flood cannot starve the loop); they are valid only during the call.
 * - `send()` never throws for transient failures: they are counted in `stats.txDropped`.
 * - `close()` is idempotent; after it no receiver call happens, the worker thread has ended and
 *   the fd is closed, so the process can exit. An unref'd device never keeps the process alive.
 * - Failures are `TunError`s with a permanent `code` (and `errno`/`syscall` where a system call
 *   failed).
 *
 * - `openWarmUpPair()` gives two devices joined by an `AF_UNIX` `SOCK_SEQPACKET` socketpair
 *   instead of an interface (no privilege, no network): the same device code on both ends, to
 *   warm a process's device path before the real device's first packet.
 *
 * `TunDevice` satisfies `@tcp-tun/net`'s `Link` interface structurally.
 */
export { openTun, TunDevice, type TunConfiguration, type TunReceiver, type TunStats } from './device.js';
export type { SkippedSetting, TunOffloadStatus } from './configure.js';
export type { TunIpv6Status } from './configure6.js';
export { TunError, type TunErrorCode, type TunErrorDetails } from './errors.js';
export { openWarmUpPair, type WarmUpPairOptions } from './warm-up-pair.js';
export { BIG_TSO_MIN_KERNEL, DEFAULT_BUSY_POLL_US, DEFAULT_TX_QUEUE_LEN, kernelTakesBigTso, parseKernelRelease, type KernelVersion, type TunOptions } from './options.js';
export { MAX_BIG_TSO_PACKET } from './vnet.js';
export type { TunWriterMode } from './write-worker.js';
