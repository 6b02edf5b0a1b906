/**
 * Output files (`--pcap`, `--trace`) are buffered; their writers flush on a timer, but a process
 * that exits or is signalled between two ticks would lose the tail. `flushOnExit()` flushes them
 * on 'exit', SIGINT and SIGTERM without changing what the signal does: a program with its own
 * signal handler (tcp-tun-echo closes its stack) keeps it; a program without one (curl-lite)
 * still dies of the signal, as curl does, exit status 128+N, after the flush.
 */

/** Something that writes what it buffered, synchronously. */
export interface Flushable {
  /** Writes what is buffered, synchronously; may throw (the error is ignored). */
  flush(): void;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Flushes every writer in `writers` when the process exits or gets SIGINT/SIGTERM. Returns a
 * function that removes the handlers. Errors of a flush are ignored (the process is ending; the
 * file may be on a full disk), so one bad file cannot keep another from being written.
 */
export function flushOnExit(writers: readonly Flushable[], proc: NodeJS.Process = process): () => void {
  const flushAll = (): void => {
    for (const w of writers) {
      try {
        w.flush();
      } catch {
        // ignored: see above
      }
    }
  };
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of SIGNALS) {
    const handler = (): void => {
      flushAll();
      // Alone, we stand in for the default action: remove ourselves and take the signal again.
      if (proc.listenerCount(signal) === 1) {
        proc.removeListener(signal, handler);
        proc.kill(proc.pid, signal);
      }
    };
    handlers.set(signal, handler);
    // First, so the flush happens before a program's own handler starts closing things.
    proc.prependListener(signal, handler);
  }
  proc.on('exit', flushAll);
  return () => {
    for (const [signal, handler] of handlers) proc.removeListener(signal, handler);
    proc.removeListener('exit', flushAll);
  };
}
