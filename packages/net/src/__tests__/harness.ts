/**
 * Test harness: two stacks joined by an in-memory link pair (10.0.0.1 and 10.0.0.2; nothing
 * touches a real network), plus small promise helpers.
 */
import { once } from 'node:events';
import type { TcpConfig } from '@tcp-tun/tcp';
import { createLinkPair, type LinkPairOptions, type PairedLink } from '../link-pair.js';
import type { Link, LinkReceiver } from '../link.js';
import type { Socket } from '../socket.js';
import { Stack } from '../stack.js';

export const ADDR_A = '10.0.0.1';
export const ADDR_B = '10.0.0.2';

export interface Pair {
  readonly a: Stack;
  readonly b: Stack;
  readonly linkA: PairedLink;
  readonly linkB: PairedLink;
  close(): Promise<void>;
}

/** Two stacks over a link pair; remember to `await pair.close()` (an afterEach does it). */
export function makePair(options: { link?: LinkPairOptions; tcp?: Partial<TcpConfig> } = {}): Pair {
  const [linkA, linkB] = createLinkPair(options.link);
  const a = new Stack({ link: linkA, address: ADDR_A, ...(options.tcp ? { tcp: options.tcp } : {}) });
  const b = new Stack({ link: linkB, address: ADDR_B, ...(options.tcp ? { tcp: options.tcp } : {}) });
  return {
    a,
    b,
    linkA,
    linkB,
    async close() {
      await Promise.all([a.close(), b.close()]);
    },
  };
}

/**
 * A link that records what is sent and lets a test inject packets. Given `onSend`, it hands
 * each sent packet to it instead of recording it (the packet is valid only during the call),
 * so a long run keeps no memory.
 */
export class RawLink implements Link {
  readonly mtu: number;
  readonly sent: Uint8Array[] = [];
  readonly #onSend: ((packet: Uint8Array) => void) | undefined;
  #receiver: LinkReceiver | undefined;
  closed = false;
  constructor(mtu = 1500, onSend?: (packet: Uint8Array) => void) {
    this.mtu = mtu;
    this.#onSend = onSend;
  }
  start(receiver: LinkReceiver): void {
    this.#receiver = receiver;
  }
  send(packet: Uint8Array): void {
    if (this.#onSend !== undefined) this.#onSend(packet);
    else this.sent.push(packet.slice());
  }
  /**
   * Delivers one batch to the stack, synchronously. The stack sends its answers later in the
   * same turn (after the application saw the events and its ticks ran): await the result, which
   * settles on the next turn, to see them in `sent`.
   */
  inject(...packets: Uint8Array[]): Promise<void> {
    this.#receiver?.(packets);
    return new Promise((resolve) => setImmediate(resolve));
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** Reads a socket to its end; resolves with every byte. */
export async function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Resolves with the first 'error' of an emitter. */
export async function nextError(emitter: NodeJS.EventEmitter): Promise<Error & Record<string, unknown>> {
  const [err] = (await once(emitter, 'error')) as [Error & Record<string, unknown>];
  return err;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { seededBytes } from './seeded.js';
