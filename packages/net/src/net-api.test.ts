import { expect } from 'chai';
import { once } from 'node:events';
import net from 'node:net';
import { ADDR_B, makePair, readAll } from './__tests__/harness.js';

describe('stack.net: one class shared by every stack', () => {
  it("gives every stack's sockets and servers the same prototype (one V8 map), instanceof intact", async () => {
    const pair = makePair();
    try {
      const [sa, sb] = [new pair.a.net.Socket(), pair.b.net.Socket()];
      // A prototype per stack made the socket code polymorphic once a process had a second
      // stack (apps/echo's warm-up): what V8 optimised on one stack's sockets deoptimised on the next.
      expect(Object.getPrototypeOf(sa)).to.equal(Object.getPrototypeOf(sb));
      expect(Object.getPrototypeOf(pair.a.net.createServer())).to.equal(Object.getPrototypeOf(new pair.b.net.Server()));
      expect(sa).to.be.instanceOf(pair.a.net.Socket).and.instanceOf(net.Socket);
      expect(sa.constructor.name).to.equal('Socket');
      sa.destroy();
      sb.destroy();
    } finally {
      await pair.close();
    }
  });

  it('a subclass of stack.net.Socket / Server has its stack already in its constructor', async () => {
    const pair = makePair();
    try {
      class Listening extends pair.b.net.Server {
        constructor() {
          super((s) => s.end('hello'));
          this.listen(7);
        }
      }
      const server = new Listening();
      await once(server, 'listening');
      class Dialing extends pair.a.net.Socket {
        constructor() {
          super();
          this.connect(7, ADDR_B);
        }
      }
      const client = new Dialing();
      expect(client).to.be.instanceOf(Dialing).and.instanceOf(pair.a.net.Socket);
      expect((await readAll(client)).toString()).to.equal('hello');
      // A socket made while evaluating super()'s argument takes nothing from the outer one.
      let inner: InstanceType<typeof pair.a.net.Socket> | undefined;
      class Nesting extends pair.a.net.Socket {
        constructor() {
          super((inner = new pair.a.net.Socket(), {}));
          this.connect(7, ADDR_B);
        }
      }
      const nesting = new Nesting();
      expect((await readAll(nesting)).toString()).to.equal('hello');
      inner!.connect(7, ADDR_B);
      expect((await readAll(inner!)).toString()).to.equal('hello');
      server.close();
    } finally {
      await pair.close();
    }
  });
});
