import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { flushOnExit } from './flush-on-exit.js';

/** A stand-in for `process`: signals and 'exit' are emitted by hand, kill() is recorded. */
function fakeProcess(): NodeJS.Process & { kills: string[] } {
  const proc = new EventEmitter() as EventEmitter & { pid: number; kills: string[]; kill: (pid: number, signal: string) => boolean };
  proc.pid = 4242;
  proc.kills = [];
  proc.kill = (_pid, signal) => {
    proc.kills.push(signal);
    return true;
  };
  return proc as unknown as NodeJS.Process & { kills: string[] };
}

describe('flushOnExit', () => {
  it('flushes on exit, and on a signal re-raises it when no one else handles it (curl-lite)', () => {
    const proc = fakeProcess();
    let flushes = 0;
    flushOnExit([{ flush: () => flushes++ }, { flush: () => { throw new Error('disk full'); } }], proc);
    proc.emit('exit', 0);
    expect(flushes).to.equal(1);
    proc.emit('SIGINT');
    expect(flushes).to.equal(2);
    expect(proc.kills).to.deep.equal(['SIGINT']);
    expect(proc.listenerCount('SIGINT')).to.equal(0);
  });

  it("flushes first and leaves a program's own handler in charge (tcp-tun-echo)", () => {
    const proc = fakeProcess();
    const order: string[] = [];
    flushOnExit([{ flush: () => order.push('flush') }], proc);
    proc.on('SIGTERM', () => order.push('app'));
    proc.emit('SIGTERM');
    expect(order).to.deep.equal(['flush', 'app']);
    expect(proc.kills).to.deep.equal([]);
  });

  it('removes its handlers when asked', () => {
    const proc = fakeProcess();
    const off = flushOnExit([{ flush: () => undefined }], proc);
    off();
    expect(proc.listenerCount('SIGINT') + proc.listenerCount('SIGTERM') + proc.listenerCount('exit')).to.equal(0);
  });
});
