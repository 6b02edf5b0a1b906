/**
 * Source of the readiness worker: it blocks in poll(2) on the TUN fd and an eventfd, and tells
 * the main thread when the TUN fd is readable. It never reads packets itself.
 *
 * It runs as an eval'd CommonJS script (not a module file) so it starts the same way from the
 * compiled `dist`, under a TypeScript loader such as tsx (whose hooks do not reach worker
 * threads), or from a bundle. It loads ffi-rs by the absolute path the main thread resolved.
 *
 * Protocol over one shared Int32 (`state[0]`, values in poll-protocol.ts):
 * - Idle: the worker may poll. When the TUN fd is readable it moves Idle → Ready, posts
 *   `{kind:'readable'}` and sleeps in `Atomics.wait` until the main thread has drained the fd to
 *   EAGAIN and stored Idle again. poll(2) is level-triggered: without this wait it would spin
 *   while the main thread drains.
 * - Closing: stored by the main thread, which then writes the eventfd to break a poll in
 *   progress; the worker returns, which ends the thread.
 * A POLLERR/POLLHUP/POLLNVAL without POLLIN (device deleted) posts `{kind:'hangup'}` and ends;
 * a failing poll(2) posts `{kind:'error', errno}` and ends.
 */
import { PollState } from './poll-protocol.js';
import { POLLERR, POLLHUP, POLLIN, POLLNVAL } from './libc.js';

/** Zero-timeout polls the worker makes at start to warm its loop (~10-20 µs each when warm). */
const WARM_UP_POLLS = 2000;

/**
 * The worker's CommonJS source, for `new Worker(POLL_WORKER_SOURCE, { eval: true, workerData })`
 * with `workerData` a `PollWorkerData`.
 */
export const POLL_WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const ffi = require(workerData.ffiPath);
const IDLE = ${PollState.Idle}, READY = ${PollState.Ready}, CLOSING = ${PollState.Closing};
const POLLIN = ${POLLIN}, POLLFAIL = ${POLLERR | POLLHUP | POLLNVAL};
const LIBRARY = 'tcp-tun-libc-worker';
ffi.open({ library: LIBRARY, path: '' });
const libc = ffi.define({
  poll: { library: LIBRARY, retType: ffi.DataType.I32, paramsType: [ffi.DataType.U8Array, ffi.DataType.I64, ffi.DataType.I32], errno: true },
});
const state = new Int32Array(workerData.state);
// struct pollfd { int fd; short events; short revents; } x 2, in host byte order.
const fds = Buffer.alloc(16);
const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const view = new DataView(fds.buffer, fds.byteOffset, fds.byteLength);
view.setInt32(0, workerData.tunFd, le);
view.setInt16(4, POLLIN, le);
view.setInt32(8, workerData.eventFd, le);
view.setInt16(12, POLLIN, le);
const EINTR = 4;
// Warm the loop's calls before the first packet: the worker's isolate starts cold, and a cold
// worker makes every hand-over slow while it runs interpreted (poll through ffi-rs, Atomics):
// the main thread's rearm() wakes it and, on a busy 2-core machine, waits to run again until
// the worker is back in poll(2). poll(2) with a zero timeout on the eventfd alone returns at
// once (it is written only at shutdown, which ends the warm-up).
{
  const warm = Buffer.alloc(8);
  const wv = new DataView(warm.buffer, warm.byteOffset, warm.byteLength);
  wv.setInt32(0, workerData.eventFd, le);
  wv.setInt16(4, POLLIN, le);
  const scratch = new Int32Array(1);
  for (let i = 0; i < ${WARM_UP_POLLS} && Atomics.load(state, 0) !== CLOSING; i++) {
    wv.setInt16(6, 0, le);
    const r = libc.poll([warm, 1, 0]);
    if (r.value !== 0) break;
    if (Atomics.compareExchange(scratch, 0, IDLE, READY) === IDLE) Atomics.store(scratch, 0, IDLE);
  }
}
for (;;) {
  if (Atomics.load(state, 0) === CLOSING) break;
  view.setInt16(6, 0, le);
  view.setInt16(14, 0, le);
  const r = libc.poll([fds, 2, -1]);
  if (r.value < 0) {
    if (r.errnoCode === EINTR) continue;
    parentPort.postMessage({ kind: 'error', errno: r.errnoCode });
    break;
  }
  if (Atomics.load(state, 0) === CLOSING || (view.getInt16(14, le) & POLLIN) !== 0) break;
  const revents = view.getInt16(6, le);
  if ((revents & POLLIN) !== 0) {
    if (Atomics.compareExchange(state, 0, IDLE, READY) !== IDLE) break;
    parentPort.postMessage({ kind: 'readable' });
    Atomics.wait(state, 0, READY);
  } else if ((revents & POLLFAIL) !== 0) {
    parentPort.postMessage({ kind: 'hangup' });
    break;
  }
}
`;
