/**
 * The `-o` file as curl writes it: created when the first body byte arrives (so `-f` on an
 * HTTP error leaves no file), created empty for an empty body that succeeded, and emptied when
 * `--retry` starts over ("Throwing away N bytes").
 */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';

/** A Writable over a file written at explicit offsets, so it can be rewound. */
export class FileOutput extends Writable {
  private fd: number | undefined;
  private position = 0;
  private keepEmpty = true;

  constructor(readonly path: string) {
    super();
  }

  /** Bytes written since the file was created or last truncated. */
  get bytes(): number {
    return this.position;
  }

  /** Empties the file for a new attempt; the next byte lands at offset 0. */
  truncate(): void {
    if (this.fd !== undefined) ftruncateSync(this.fd, 0);
    this.position = 0;
  }

  /** The transfer failed: ending the stream creates no empty file. */
  abandon(): void {
    this.keepEmpty = false;
  }

  private open(): number {
    this.fd ??= openSync(this.path, 'w', 0o666);
    return this.fd;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    try {
      const fd = this.open();
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off, this.position + off);
      this.position += chunk.length;
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _final(done: (err?: Error | null) => void): void {
    try {
      if (this.fd === undefined && this.keepEmpty) this.open();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    done(err);
  }
}

/** Opens curl's `-o` file: a drop-in for `fs.createWriteStream` with curl's file semantics. */
export function createWriteStream(path: string): FileOutput {
  return new FileOutput(path);
}
