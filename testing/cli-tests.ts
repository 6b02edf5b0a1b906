/**
 * What the apps' unit tests share: a link that can be cut (a peer that vanishes without a
 * word) and the exit codes of command lines a parser must refuse.
 */
import { expect } from 'chai';
import type { Link, LinkReceiver } from '@tcp-tun/net';

/** A link that can be cut: from then on it loses every packet both ways, silently. */
export class CuttableLink implements Link {
  cut = false;
  constructor(private readonly inner: Link) {}
  get mtu(): number {
    return this.inner.mtu;
  }
  start(receiver: LinkReceiver): void {
    this.inner.start((packets) => {
      if (!this.cut) receiver(packets);
    });
  }
  send(packet: Uint8Array): void {
    if (!this.cut) this.inner.send(packet);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Runs `parse` on each bad argument list with `process.exit` and stderr stubbed: each must end
 * in an exit (commander's usage error). Returns the exit codes, in order.
 */
export function usageExitCodes(badArgs: readonly (readonly string[])[], parse: (args: readonly string[]) => unknown): number[] {
  const exits: number[] = [];
  const realExit = process.exit;
  const realWrite = process.stderr.write;
  process.exit = ((code?: number) => {
    exits.push(code ?? 0);
    throw new Error('exit');
  }) as typeof process.exit;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    for (const bad of badArgs) expect(() => parse(bad), bad.join(' ')).to.throw('exit');
  } finally {
    process.exit = realExit;
    process.stderr.write = realWrite;
  }
  return exits;
}
