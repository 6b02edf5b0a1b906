/**
 * The few libc calls Node has no API for, made through ffi-rs: `ioctl`, `socket`, `socketpair`
 * and `eventfd` (the readiness worker binds `poll` itself, see poll-worker.ts). Each costs 8-21 µs
 * (ARCHITECTURE.md §4b), so they serve set-up only, never the packet path.
 */
import { DataType, define, load, open } from 'ffi-rs';
import { errnoName } from './errors.js';

/** Result of a libc call: the C return value and, when it failed, the errno name. */
export interface CallResult {
  /** The C return value (-1 on failure for these calls). */
  readonly value: number;
  /** errno name when `value < 0`, else undefined. */
  readonly errno: string | undefined;
}

interface RawResult {
  value: number;
  errnoCode: number;
}

/** `socket()` type flags and `eventfd()`/`poll()` constants (x86_64/aarch64 Linux). */
export const SOCK_DGRAM = 2;
export const AF_UNIX = 1;
export const SOCK_SEQPACKET = 5;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const POLLIN = 0x1;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

/** Key under which ffi-rs keeps the handle; the empty path means "the running program". */
const LIBRARY = 'tcp-tun-libc';

type Bound = {
  ioctl(args: unknown[]): unknown;
  socket(args: unknown[]): unknown;
  eventfd(args: unknown[]): unknown;
  socketpair(args: unknown[]): unknown;
};

let bound: Bound | undefined;
let opened = false;

function openLibc(): void {
  if (!opened) {
    // dlopen(NULL): symbols of node and the libc it links, glibc or musl alike.
    open({ library: LIBRARY, path: '' });
    opened = true;
  }
}

function libc(): Bound {
  if (bound === undefined) {
    openLibc();
    bound = define({
      // int ioctl(int fd, unsigned long request, void *arg). Variadic in C, but on the 64-bit
      // SysV and AAPCS ABIs a pointer third argument is passed the same way either way.
      ioctl: { library: LIBRARY, retType: DataType.I32, paramsType: [DataType.I32, DataType.I64, DataType.U8Array], errno: true },
      socket: { library: LIBRARY, retType: DataType.I32, paramsType: [DataType.I32, DataType.I32, DataType.I32], errno: true },
      eventfd: { library: LIBRARY, retType: DataType.I32, paramsType: [DataType.I32, DataType.I32], errno: true },
      // int socketpair(int domain, int type, int protocol, int sv[2]): sv as 8 bytes by pointer.
      socketpair: { library: LIBRARY, retType: DataType.I32, paramsType: [DataType.I32, DataType.I32, DataType.I32, DataType.U8Array], errno: true },
    }) as Bound;
  }
  return bound;
}

function result(raw: unknown): CallResult {
  const r = raw as RawResult;
  return { value: r.value, errno: r.value < 0 ? errnoName(r.errnoCode) : undefined };
}

/** ffi-rs passes `U8Array` arguments by pointer and copies results back into a Buffer. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** `ioctl(fd, request, arg)`; the kernel's writes to `arg` land in `arg`. */
export function ioctl(fd: number, request: number, arg: Uint8Array): CallResult {
  return result(libc().ioctl([fd, request, asBuffer(arg)]));
}

/**
 * `ioctl(fd, request, value)` for requests whose argument is a plain integer, not a pointer
 * (TUNSETOFFLOAD). `define()` binds one signature per symbol name, so this one goes through
 * `load()`; it serves set-up only.
 */
export function ioctlValue(fd: number, request: number, value: number): CallResult {
  openLibc();
  const raw = load({
    library: LIBRARY,
    funcName: 'ioctl',
    retType: DataType.I32,
    paramsType: [DataType.I32, DataType.I64, DataType.I64],
    paramsValue: [fd, request, value],
    errno: true,
  });
  return result(raw);
}

/** `socket(domain, type, 0)`. */
export function socket(domain: number, type: number): CallResult {
  return result(libc().socket([domain, type, 0]));
}

/** `eventfd(initval, flags)`. */
export function eventfd(initial: number, flags: number): CallResult {
  return result(libc().eventfd([initial, flags]));
}

/**
 * `socketpair(domain, type, 0, sv)`: the two connected descriptors, or the errno name of the
 * failure.
 */
export function socketpair(domain: number, type: number): { readonly fds: readonly [number, number] } | { readonly errno: string } {
  const sv = Buffer.alloc(8);
  const r = result(libc().socketpair([domain, type, 0, sv]));
  if (r.value < 0) return { errno: r.errno ?? 'EIO' };
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  return { fds: [le ? sv.readInt32LE(0) : sv.readInt32BE(0), le ? sv.readInt32LE(4) : sv.readInt32BE(4)] };
}
