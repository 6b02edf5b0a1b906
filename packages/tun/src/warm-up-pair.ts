/**
 * `openWarmUpPair()`: two {@link TunDevice}s joined back to back by an `AF_UNIX`
 * `SOCK_SEQPACKET` socketpair instead of a TUN interface (issue 11, bench/PROFILE.md round 6).
 *
 * Why: a fresh process ran its first ~500 real connections at a third of the warm rate, and an
 * in-memory warm-up of the stack could not reach the device's own code: in the cold block the
 * TUN writes cost ~240 µs per connection against 28 warm, `rearm` ~100 µs against 6, and V8
 * compiled for ~175 ms on the other core. The device's drain (`fs.readSync` until EAGAIN and its
 * exception, the virtio-net header and checksum completion), its `send`/`sendTso`, the readiness
 * worker's messages and `rearm()`, and the stack's egress into a TSO link run only on a device.
 *
 * A SOCK_SEQPACKET socketpair behaves as a TUN fd does where the device code can tell: one
 * `read` returns one whole message (one packet), one `write` or `writev` sends one message,
 * a non-blocking read of an empty queue fails with EAGAIN, poll(2) reports POLLIN when a
 * message waits, and the peer's close reads as end of file. So the pair runs the very class the
 * real device is, over file descriptors that reach no network: nothing leaves the process.
 *
 * With `offload` both ends read and write the 10-byte virtio-net header: what one end's
 * `sendTso()` writes (NEEDS_CSUM, partial checksum) the other end completes on receipt, as it
 * completes the kernel's. A GSO super-packet is not cut up (no kernel is in between): the
 * other end receives it whole, as the kernel's GRO'd ones, so a warm-up should send
 * single-segment payloads.
 */
import { closeSync } from 'node:fs';
import { TunDevice, type DeviceInternals } from './device.js';
import { TunError } from './errors.js';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_SEQPACKET, socketpair } from './libc.js';
import { resolveOptions } from './options.js';
import type { Readiness, ReadinessHandlers } from './readiness.js';

/** A pair end's readiness source: rung by the other end's writes (see the header). */
class Doorbell implements Readiness {
  readonly #handlers: ReadinessHandlers;
  /** Whether the reader drained to EAGAIN and waits for the next ring. */
  #armed = false;
  #stopped = false;
  #refed = true;
  #immediate: NodeJS.Immediate | undefined;

  constructor(handlers: ReadinessHandlers) {
    this.#handlers = handlers;
    // As the worker's first poll: whatever was written before the reader existed is read.
    this.#fire();
  }

  ring(): void {
    if (!this.#armed || this.#stopped) return;
    this.#armed = false;
    this.#fire();
  }

  #fire(): void {
    this.#immediate = setImmediate(() => {
      this.#immediate = undefined;
      if (!this.#stopped) this.#handlers.readable();
    });
    if (!this.#refed) this.#immediate.unref();
  }

  rearm(): void {
    if (!this.#stopped) this.#armed = true;
  }

  ref(): void {
    this.#refed = true;
    this.#immediate?.ref();
  }

  unref(): void {
    this.#refed = false;
    this.#immediate?.unref();
  }

  signalStop(): void {
    this.#stopped = true;
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }

  stop(): Promise<void> {
    this.signalStop();
    return Promise.resolve();
  }
}

/** Options of {@link openWarmUpPair}. All are optional. */
export interface WarmUpPairOptions {
  /** MTU of both ends in octets, 68..65535, as the real device's (default 1500). */
  readonly mtu?: number;
  /**
   * Read and write virtio-net headers and give both ends `sendTso()`, as a TUN device opened
   * with offload (default false). Pass the real device's `offload` so the same code runs.
   * `tso.maxPacket` is 65535 either way (no `bigTso`: the ends read at most 64 KiB).
   */
  readonly offload?: boolean;
  /** As {@link TunOptions.readBatch} (default 256). */
  readonly readBatch?: number;
  /** As {@link TunOptions.busyPollUs} (default {@link DEFAULT_BUSY_POLL_US}). */
  readonly busyPollUs?: number;
}

/**
 * Opens two {@link TunDevice}s joined by a non-blocking `AF_UNIX` `SOCK_SEQPACKET` socketpair:
 * what one `send()`s the other receives, one packet per read. Each fits `@tcp-tun/net`'s `Link`
 * and works as a TUN device does (batches, busy polling, stats, `close()`), except that it
 * learns of readability from the other end's writes instead of a poll worker;
 * their `name`s (`socketpair/0`, `socketpair/1`) name no interface and `readTxDropped()` is
 * undefined. They emit no `'error'`: a read error (ECONNRESET once the other end was closed with
 * packets unread) ends reading quietly. Meant to warm a process's device path before the real device is read; it needs no
 * privilege. Close both when done.
 * @throws TunError `ERR_TUN_CONFIG` (with `errno`, `syscall: 'socketpair'`) when the socketpair
 *   cannot be made, or `ERR_INVALID_ARG_VALUE` for a bad option.
 */
export function openWarmUpPair(options: WarmUpPairOptions = {}): [TunDevice, TunDevice] {
  // The same validation as openTun's; `configure: false` so nothing here looks at interfaces.
  const resolved = resolveOptions({
    name: 'socketpair',
    configure: false,
    offload: options.offload === true,
    // Never BIG TCP: the other end reads into a 64 KiB buffer, and a larger SEQPACKET message
    // would be cut short silently; the pair warms the same code with packets up to 65535 octets.
    bigTso: false,
    ...(options.mtu === undefined ? {} : { mtu: options.mtu }),
    ...(options.readBatch === undefined ? {} : { readBatch: options.readBatch }),
    ...(options.busyPollUs === undefined ? {} : { busyPollUs: options.busyPollUs }),
  });
  const made = socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC);
  if ('errno' in made) {
    throw new TunError('ERR_TUN_CONFIG', `socketpair(AF_UNIX, SOCK_SEQPACKET) failed: ${made.errno}`, {
      errno: made.errno,
      syscall: 'socketpair',
    });
  }
  const configuration = { configured: false, changed: [], skipped: [], up: true } as const;
  const status = { state: resolved.offload ? 'on' : 'off' } as const;
  const [a, b] = made.fds;
  try {
    // '/' cannot be in an interface name, so these never name a real interface's /sys files.
    const bells: [Doorbell | undefined, Doorbell | undefined] = [undefined, undefined];
    const internals = (me: 0 | 1): DeviceInternals => ({
      readiness: (handlers) => (bells[me] = new Doorbell(handlers)),
      afterSend: () => bells[me === 0 ? 1 : 0]?.ring(),
    });
    const devices: [TunDevice, TunDevice] = [
      new TunDevice(a, 'socketpair/0', resolved, configuration, resolved.mtu, status, internals(0)),
      new TunDevice(b, 'socketpair/1', resolved, configuration, resolved.mtu, status, internals(1)),
    ];
    // When one end is closed with packets still unread in its queue, the kernel reports
    // ECONNRESET to the other end's next read (af_unix), which a device reports as an 'error'
    // event and stops reading. Two stacks closing at slightly different times do exactly that;
    // for a warm-up pair it only means "the other end is gone", and an unhandled 'error' event
    // would crash the process, so it is taken as the end of reading.
    for (const device of devices) device.on('error', () => undefined);
    return devices;
  } catch (error) {
    closeSync(a);
    closeSync(b);
    throw error;
  }
}
