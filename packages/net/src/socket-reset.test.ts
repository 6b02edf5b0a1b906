/**
 * A reset that arrives while nobody reads is deferred to the next read or write (as Node over
 * a kernel socket). A write already waiting for send-buffer room is such a write: it must fail
 * at once (EPIPE) and the socket close. Before, it waited for room that never came and the
 * socket never emitted 'close' (found by the fuzzer: its client sockets piled up).
 */
import { once } from 'node:events';
import { expect } from 'chai';
import { ADDR_A, ADDR_B, RawLink, sleep } from './__tests__/harness.js';
import { sentTcp, tcpPacket } from './__tests__/packets.js';
import { Stack } from './stack.js';

describe('Socket: a reset while a write waits for room and nobody reads', () => {
  it('fails the waiting write with EPIPE and closes the socket', async () => {
    const link = new RawLink();
    const stack = new Stack({ link, address: ADDR_A });
    try {
      const socket = stack.net.connect({ port: 5000, host: ADDR_B, tcp: { sendBufferSize: 1024 } });
      socket.pause();
      const errors: Array<Error & { code?: string }> = [];
      socket.on('error', (e: Error) => errors.push(e));
      await sleep(1);
      const [syn] = sentTcp(link);
      expect(syn?.control).to.equal('syn');
      const ours = ((syn?.seq as number) + 1) >>> 0;
      // The peer's window is closed: what we write beyond the send buffer waits.
      const peer = { srcPort: 5000, dstPort: syn?.srcPort as number, window: 0 };
      const connected = once(socket, 'connect');
      await link.inject(tcpPacket({ ...peer, control: 'syn', seq: 7000, ack: ours, mss: 1460 }));
      await connected;
      let writeError: (Error & { code?: string }) | null | undefined;
      socket.write(Buffer.alloc(10_000), (err) => {
        writeError = err;
      });
      await link.inject(tcpPacket({ ...peer, control: 'fin', seq: 7001, ack: ours }));
      await sleep(5);
      expect(socket.destroyed).to.equal(false);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      await link.inject(tcpPacket({ ...peer, control: 'rst', seq: 7002, ack: undefined }));
      await Promise.race([closed, sleep(500).then(() => Promise.reject(new Error('no close after the reset')))]);
      expect(writeError?.code).to.equal('EPIPE');
      expect(errors.map((e) => e.code)).to.deep.equal(['EPIPE']);
    } finally {
      await stack.close();
    }
  });
});
