import { expect } from 'chai';
import { SystemError, TcpTunError, argumentError, validatePort } from './errors.js';

describe('errors', () => {
  it('builds Node-shaped connect errors', () => {
    const err = new SystemError('ECONNREFUSED', 'connect', '10.0.0.2', 80);
    expect(err.message).to.equal('connect ECONNREFUSED 10.0.0.2:80');
    expect(err).to.include({ code: 'ECONNREFUSED', errno: -111, syscall: 'connect', address: '10.0.0.2', port: 80 });
    expect(err).to.be.instanceOf(Error);
    expect(err).to.be.instanceOf(TcpTunError);
  });

  it('words listen errors as Node does and omits unknown fields', () => {
    expect(new SystemError('EADDRINUSE', 'listen', '0.0.0.0', 80).message).to.equal('listen EADDRINUSE: address already in use 0.0.0.0:80');
    const reset = new SystemError('ECONNRESET', 'read');
    expect(reset.message).to.equal('read ECONNRESET');
    expect(reset.errno).to.equal(-104);
    expect('address' in reset).to.equal(false);
    expect('port' in reset).to.equal(false);
  });

  it('makes argument errors of Node classes that are also TcpTunError', () => {
    const err = argumentError('ERR_SOCKET_BAD_PORT', 'bad', 'range');
    expect(err).to.be.instanceOf(RangeError);
    expect(err).to.be.instanceOf(TcpTunError);
    expect(err).not.to.be.instanceOf(SystemError);
    expect(err.code).to.equal('ERR_SOCKET_BAD_PORT');
    expect(String(err.stack)).to.match(/^RangeError \[ERR_SOCKET_BAD_PORT\]: bad/);
    expect(new RangeError('x')).not.to.be.instanceOf(TcpTunError);
  });

  it('validates ports as Node does', () => {
    expect(validatePort(0)).to.equal(0);
    expect(validatePort('8080')).to.equal(8080);
    for (const bad of [-1, 65536, 1.5, 'x', '', null, undefined, NaN]) {
      expect(() => validatePort(bad)).to.throw(RangeError).with.property('code', 'ERR_SOCKET_BAD_PORT');
    }
  });
});
