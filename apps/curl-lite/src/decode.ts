/**
 * `--compressed`: the Accept-Encoding curl sends and the decoding of a response's
 * Content-Encoding with `node:zlib`. Codings are undone in the reverse order they were applied
 * (RFC 9110 §8.4); an unknown coding or a corrupt stream is curl's exit 61.
 */
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { CurlError, EXIT } from './errors.js';

/**
 * The codings we can undo, in curl's order (curl 7.88 also offers zstd, which Node 20's zlib
 * lacks, so we do not offer it).
 */
export const ACCEPT_ENCODING = 'deflate, gzip, br';

/**
 * "deflate" in HTTP is the zlib format (RFC 9110 §8.4.1.2), but some servers send a raw
 * deflate stream; like curl we accept both, choosing by the first two bytes: a zlib header has
 * compression method 8 in the low nibble and a check value making the pair a multiple of 31
 * (RFC 1950 §2.2).
 */
class DeflateDecoder extends Transform {
  private inner: zlib.Inflate | zlib.InflateRaw | undefined;
  private first = Buffer.alloc(0);

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.inner === undefined) {
      this.first = Buffer.concat([this.first, chunk]);
      if (this.first.length < 2) return done();
      const b0 = this.first[0] as number;
      const b1 = this.first[1] as number;
      const zlibHeader = (b0 & 0x0f) === 8 && (b0 * 256 + b1) % 31 === 0;
      this.inner = zlibHeader ? zlib.createInflate() : zlib.createInflateRaw();
      this.inner.on('data', (d: Buffer) => this.push(d));
      this.inner.once('error', (err) => this.destroy(err));
      chunk = this.first;
    }
    this.inner.write(chunk, () => done());
  }

  override _flush(done: TransformCallback): void {
    if (this.inner === undefined) {
      if (this.first.length === 0) return done();
      return done(new Error('deflate stream too short'));
    }
    this.inner.once('end', () => done());
    this.inner.end();
  }
}

function decoderFor(coding: string): Transform | undefined {
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return new DeflateDecoder();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      return undefined;
  }
}

/**
 * The decoders for a Content-Encoding header value, outermost coding first (the order to pipe
 * them in). `identity` is skipped; undefined or empty means no decoding. Throws curl's 61 for a
 * coding we do not know.
 */
export function decodersFor(contentEncoding: string | undefined): Transform[] {
  if (contentEncoding === undefined) return [];
  const codings = contentEncoding
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  const decoders: Transform[] = [];
  for (const coding of codings.reverse()) {
    const d = decoderFor(coding);
    if (d === undefined) {
      for (const made of decoders) made.destroy();
      throw new CurlError(EXIT.BAD_CONTENT_ENCODING, `Unrecognized content encoding type. curl-lite understands ${ACCEPT_ENCODING} content encodings.`);
    }
    decoders.push(d);
  }
  return decoders;
}

/**
 * One Transform undoing `contentEncoding` (undefined when there is nothing to undo). The
 * decoders start with the first body byte: an empty body (HEAD, 204, 304, or simply none) is
 * no stream to decode, where zlib would call it truncated.
 */
export function bodyDecoder(contentEncoding: string | undefined): Transform | undefined {
  const codings = contentEncoding?.split(',').filter((c) => !/^\s*(identity)?\s*$/i.test(c)) ?? [];
  if (codings.length === 0) return undefined;
  decodersFor(contentEncoding).forEach((d) => d.destroy()); // reject an unknown coding now
  let chain: { first: Transform; last: Transform } | undefined;
  const out: Transform = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (chain === undefined) {
        const decoders = decodersFor(contentEncoding);
        for (let i = 0; i < decoders.length; i++) {
          const d = decoders[i] as Transform;
          d.once('error', (err) => out.destroy(decodeError(err)));
          if (i > 0) (decoders[i - 1] as Transform).pipe(d);
        }
        const last = decoders[decoders.length - 1] as Transform;
        last.on('data', (d: Buffer) => out.push(d));
        chain = { first: decoders[0] as Transform, last };
      }
      chain.first.write(chunk, () => done());
    },
    flush(done) {
      if (chain === undefined) return done();
      chain.last.once('end', () => done());
      chain.first.end();
    },
  });
  return out;
}

/** curl's message for a stream that does not decode. */
export function decodeError(err: Error): CurlError {
  return new CurlError(EXIT.BAD_CONTENT_ENCODING, `Error while processing content unencoding: ${err.message}`);
}
