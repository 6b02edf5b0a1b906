import { expect } from 'chai';
import { TunDevice } from './index.js';

/** The `Link` shape of @tcp-tun/net, restated here: tun must not import net. */
interface LinkShape {
  readonly mtu: number;
  start(receiver: (packets: readonly Uint8Array[]) => void): void;
  send(packet: Uint8Array): void;
  close(): Promise<void>;
}

// Compile-time check: fails typechecking if TunDevice stops fitting the Link shape.
function asLink(device: TunDevice): LinkShape {
  return device;
}

describe('TunDevice', () => {
  it('fits the Link shape of @tcp-tun/net', () => {
    expect(asLink).to.be.a('function');
    for (const method of ['start', 'send', 'close', 'ref', 'unref'] as const) {
      expect(TunDevice.prototype[method], method).to.be.a('function');
    }
  });
});
