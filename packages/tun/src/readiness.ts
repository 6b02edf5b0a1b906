/**
 * Main-thread side of the readiness worker (poll-worker.ts): starts it, turns its messages into
 * callbacks, re-arms it after each drain, and stops it.
 *
 * Why a worker: Node has no public API to watch an arbitrary fd for readability, and readers
 * that block in the thread pool are slow (20-50k packets/s) and hang `close()` and
 * `process.exit()`. The worker only blocks in poll(2), which an eventfd write interrupts, so
 * shutdown is prompt; the packets themselves are read on the main thread with `fs.readSync`.
 */
import { writeSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { errnoName, TunError } from './errors.js';
import { EFD_CLOEXEC, EFD_NONBLOCK, eventfd } from './libc.js';
import { PollState, type PollWorkerData, type PollWorkerMessage } from './poll-protocol.js';
import { POLL_WORKER_SOURCE } from './poll-worker.js';

/** Callbacks of a {@link ReadinessWatcher}. */
export interface ReadinessHandlers {
  /** The TUN fd is readable: drain it, then call `rearm()` once it returns EAGAIN. */
  readable(): void;
  /** The fd reported POLLERR/POLLHUP: read it once to learn why. The worker has stopped. */
  hangup(): void;
  /** The worker failed. */
  error(error: TunError): void;
}

/** Where ffi-rs is, resolved from this package, for the worker to `require`. */
let ffiPath: string | undefined;
function resolveFfi(): string {
  ffiPath ??= createRequire(import.meta.url).resolve('ffi-rs');
  return ffiPath;
}

const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);

/** What a device needs of its readiness source: the worker below, or a warm-up pair's doorbell. */
export interface Readiness {
  /** The fd was drained to EAGAIN: report the next readability. */
  rearm(): void;
  /** Keep the process alive while watching. */
  ref(): void;
  /** Let the process exit while watching. */
  unref(): void;
  /** Stop at once, synchronously (also from a `process.on('exit')` hook). */
  signalStop(): void;
  /** Stop and wait until nothing of it runs any more. */
  stop(): Promise<void>;
}

/** Watches one fd for readability from a worker thread. */
export class ReadinessWatcher implements Readiness {
  readonly #handlers: ReadinessHandlers;
  readonly #state: Int32Array;
  readonly #eventFd: number;
  readonly #worker: Worker;
  #stopped = false;
  readonly #exited: Promise<void>;
  #stopping: Promise<void> | undefined;

  /** Creates the eventfd and starts the worker; throws `ERR_TUN_CONFIG` if eventfd fails. */
  constructor(tunFd: number, handlers: ReadinessHandlers) {
    this.#handlers = handlers;
    const ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ev.value < 0) {
      throw new TunError('ERR_TUN_CONFIG', `eventfd failed: ${ev.errno}`, { errno: ev.errno, syscall: 'eventfd' });
    }
    this.#eventFd = ev.value;
    const state = new SharedArrayBuffer(4);
    this.#state = new Int32Array(state);
    const data: PollWorkerData = { ffiPath: resolveFfi(), tunFd, eventFd: this.#eventFd, state };
    this.#worker = new Worker(POLL_WORKER_SOURCE, {
      eval: true,
      workerData: data,
      name: 'tcp-tun poll',
      // No loader flags: the worker is plain CommonJS and needs none.
      execArgv: [],
    });
    this.#worker.on('message', (message: PollWorkerMessage) => this.#onMessage(message));
    this.#worker.on('error', (cause: unknown) => {
      if (this.#stopped) return;
      this.#handlers.error(new TunError('ERR_TUN_IO', `TUN readiness worker failed: ${String(cause)}`, { cause }));
    });
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
  }

  #onMessage(message: PollWorkerMessage): void {
    if (this.#stopped) return;
    switch (message.kind) {
      case 'readable':
        this.#handlers.readable();
        break;
      case 'hangup':
        this.#handlers.hangup();
        break;
      case 'error':
        this.#handlers.error(new TunError('ERR_TUN_IO', `poll on the TUN device failed: ${errnoName(message.errno)}`, {
          errno: errnoName(message.errno),
          syscall: 'poll',
        }));
        break;
    }
  }

  /** Tells the worker the fd was drained to EAGAIN, so it may poll again. */
  rearm(): void {
    if (this.#stopped) return;
    Atomics.store(this.#state, 0, PollState.Idle);
    Atomics.notify(this.#state, 0);
  }

  /** Lets the worker keep the process alive (the default). */
  ref(): void {
    this.#worker.ref();
  }

  /** Lets the process exit while the worker runs. */
  unref(): void {
    this.#worker.unref();
  }

  /**
   * Asks the worker to end, synchronously: safe from a `process.on('exit')` hook, where it keeps
   * Node's worker teardown from waiting forever on a blocked poll(2).
   */
  signalStop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    Atomics.store(this.#state, 0, PollState.Closing);
    Atomics.notify(this.#state, 0);
    try {
      writeSync(this.#eventFd, ONE);
    } catch {
      // Cannot fail for a valid eventfd short of counter overflow; the state word suffices then.
    }
  }

  /** Stops the worker, waits for its thread to end, then closes the eventfd. */
  stop(): Promise<void> {
    this.signalStop();
    this.#stopping ??= this.#exited.then(() => closeSync(this.#eventFd));
    return this.#stopping;
  }
}
