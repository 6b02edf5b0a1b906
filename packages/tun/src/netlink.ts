/**
 * The two rtnetlink requests the IPv6 set-up needs, which no ioctl can express: an address with
 * `IFA_F_NODAD` and a point-to-point peer (`ip -6 addr add A peer P dev IF nodad`), and a host
 * route (`ip -6 route add P/128 dev IF`). The socket is opened through ffi-rs like the ioctl
 * socket; the request is one `write` and the kernel's acknowledgement one `read`, both plain
 * `node:fs` calls on the descriptor. Message layouts: include/uapi/linux/netlink.h,
 * rtnetlink.h, if_addr.h; all fields in host byte order except the addresses themselves.
 */
import { closeSync, readSync, writeSync } from 'node:fs';
import { errnoName } from './errors.js';
import { LITTLE_ENDIAN } from './vnet.js';
import { socket, SOCK_CLOEXEC } from './libc.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const AF_INET6 = 10;

const NLMSG_ERROR = 2;
const RTM_NEWADDR = 20;
const RTM_NEWROUTE = 24;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
/** `ifa_flags`: use the address at once, no duplicate address detection (no tentative state). */
const IFA_F_NODAD = 0x02;
const RTA_DST = 1;
const RTA_OIF = 4;
const RT_TABLE_MAIN = 254;
/** `ip route add`'s own protocol value: a route an administrator added. */
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;
const RT_SCOPE_UNIVERSE = 0;

const NLMSG_HEADER = 16;

/** One route attribute: `struct rtattr` (length, type) and the value, padded to 4 bytes. */
function attribute(type: number, value: Uint8Array): Uint8Array {
  const length = 4 + value.length;
  const out = new Uint8Array((length + 3) & ~3);
  const view = new DataView(out.buffer);
  view.setUint16(0, length, LITTLE_ENDIAN);
  view.setUint16(2, type, LITTLE_ENDIAN);
  out.set(value, 4);
  return out;
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, LITTLE_ENDIAN);
  return out;
}

/** A whole request: `struct nlmsghdr`, the fixed family header, then the attributes. */
function message(type: number, flags: number, fixed: Uint8Array, attributes: Uint8Array[]): Uint8Array {
  const length = NLMSG_HEADER + fixed.length + attributes.reduce((n, a) => n + a.length, 0);
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  view.setUint32(0, length, LITTLE_ENDIAN);
  view.setUint16(4, type, LITTLE_ENDIAN);
  view.setUint16(6, flags, LITTLE_ENDIAN);
  view.setUint32(8, 1, LITTLE_ENDIAN); // nlmsg_seq: one request per socket
  view.setUint32(12, 0, LITTLE_ENDIAN); // nlmsg_pid 0: the kernel fills in ours
  out.set(fixed, NLMSG_HEADER);
  let at = NLMSG_HEADER + fixed.length;
  for (const a of attributes) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/**
 * `RTM_NEWADDR` for `local` on interface `ifindex`, `/128`, `IFA_F_NODAD`; with `peer`, the
 * point-to-point form (`IFA_ADDRESS` = peer, `IFA_LOCAL` = local), for which the kernel adds the
 * host route to the peer itself.
 */
export function newAddressMessage(ifindex: number, local: Uint8Array, peer: Uint8Array | undefined): Uint8Array {
  const ifaddrmsg = new Uint8Array(8);
  const view = new DataView(ifaddrmsg.buffer);
  view.setUint8(0, AF_INET6);
  view.setUint8(1, 128);
  view.setUint8(2, IFA_F_NODAD);
  view.setUint8(3, RT_SCOPE_UNIVERSE);
  view.setUint32(4, ifindex, LITTLE_ENDIAN);
  return message(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, ifaddrmsg, [
    attribute(IFA_LOCAL, local),
    attribute(IFA_ADDRESS, peer ?? local),
  ]);
}

/** `RTM_NEWROUTE` for `destination/128` out of interface `ifindex`, main table. */
export function newHostRouteMessage(ifindex: number, destination: Uint8Array): Uint8Array {
  const rtmsg = new Uint8Array(12);
  rtmsg.set([AF_INET6, 128, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST]);
  return message(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, rtmsg, [
    attribute(RTA_DST, destination),
    attribute(RTA_OIF, u32(ifindex)),
  ]);
}

/**
 * The outcome an acknowledgement reports: undefined for success, else the errno name. A reply
 * that is not an `NLMSG_ERROR` at all is reported as `EPROTO`.
 */
export function ackErrno(reply: Uint8Array): string | undefined {
  if (reply.length < NLMSG_HEADER + 4) return 'EPROTO';
  const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
  if (view.getUint16(4, LITTLE_ENDIAN) !== NLMSG_ERROR) return 'EPROTO';
  const error = view.getInt32(NLMSG_HEADER, LITTLE_ENDIAN);
  return error === 0 ? undefined : errnoName(-error);
}

/**
 * Sends one request to the kernel's rtnetlink and returns the errno name of its refusal, or
 * undefined when it was done. rtnetlink handles a request inside the `write`, so the
 * acknowledgement is queued when it returns; the socket is non-blocking so a missing one can
 * never hang the process (it reads as `EAGAIN`).
 */
export function rtnetlinkRequest(request: Uint8Array): string | undefined {
  // `socket()` passes protocol 0, which is NETLINK_ROUTE.
  const s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (s.value < 0) return s.errno ?? 'EIO';
  try {
    writeSync(s.value, request);
    const reply = new Uint8Array(8192);
    const n = readSync(s.value, reply);
    return ackErrno(reply.subarray(0, n));
  } catch (cause) {
    const code = (cause as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? code : 'EIO';
  } finally {
    closeSync(s.value);
  }
}
