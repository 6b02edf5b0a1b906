/** A one-line download progress bar for a terminal, redrawn at most every 100 ms. */
import type { WriteStream } from 'node:tty';

const MiB = 1024 * 1024;

/** Returns a progress callback drawing on `tty`, and a `finish` that ends the line. */
export function progressBar(tty: WriteStream): { update: (received: number, total: number | undefined) => void; finish: () => void } {
  const started = performance.now();
  let last = 0;
  let drawn = false;
  const draw = (received: number, total: number | undefined): void => {
    const seconds = Math.max((performance.now() - started) / 1000, 1e-3);
    const rate = `${(received / seconds / 1e6).toFixed(1)} MB/s`;
    const width = Math.max(10, Math.min(40, (tty.columns ?? 80) - 40));
    let line: string;
    if (total !== undefined && total > 0) {
      const frac = Math.min(1, received / total);
      const filled = Math.round(frac * width);
      line = `[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${(received / MiB).toFixed(1)}/${(total / MiB).toFixed(1)} MiB ${rate}`;
    } else {
      line = `${(received / MiB).toFixed(1)} MiB ${rate}`;
    }
    tty.write(`\r${line}\x1b[K`);
    drawn = true;
  };
  let latest: [number, number | undefined] = [0, undefined];
  return {
    update: (received, total) => {
      latest = [received, total];
      const now = performance.now();
      if (now - last >= 100) {
        last = now;
        draw(received, total);
      }
    },
    finish: () => {
      if (drawn) {
        draw(...latest);
        tty.write('\n');
      }
    },
  };
}
