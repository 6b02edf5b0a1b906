/**
 * What the main thread and the readiness worker share: the values of the state word and the
 * messages the worker posts. Kept apart so neither side imports the other.
 */

/** Values of the shared state word (`Int32Array(state)[0]`). */
export const PollState = {
  /** The worker may poll; the main thread is not draining. */
  Idle: 0,
  /** The worker saw the fd readable and waits for the main thread to drain it to EAGAIN. */
  Ready: 1,
  /** Shut down: the worker returns as soon as it sees this. */
  Closing: 2,
} as const;

/** Data handed to the worker at start. */
export interface PollWorkerData {
  /** Absolute path of the ffi-rs entry point, resolved by the main thread. */
  readonly ffiPath: string;
  /** The TUN fd (O_NONBLOCK), watched for POLLIN. */
  readonly tunFd: number;
  /** An eventfd written by the main thread to break a poll(2) in progress at shutdown. */
  readonly eventFd: number;
  /** 4-byte SharedArrayBuffer holding the {@link PollState} word. */
  readonly state: SharedArrayBuffer;
}

/** Messages from the worker. */
export type PollWorkerMessage =
  | { readonly kind: 'readable' }
  | { readonly kind: 'hangup' }
  | { readonly kind: 'error'; readonly errno: number };
