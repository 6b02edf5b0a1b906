import { expect } from 'chai';
import {
  IFREQ_SIZE, ifreqFlags, ifreqName, ifreqWithName, prefixToMask, setIfreqAddress, setIfreqFlags, setIfreqInt,
} from './ifreq.js';
import { configError, errnoName, TunError } from './errors.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('ifreq', () => {
  it('is 40 bytes with the NUL-terminated name first', () => {
    const ifr = ifreqWithName('tun0');
    expect(ifr.length).to.equal(IFREQ_SIZE);
    expect(hex(ifr)).to.equal('74756e30' + '00'.repeat(36));
    expect(ifreqName(ifr)).to.equal('tun0');
    expect(ifreqName(ifreqWithName('abcdefghijklmno'))).to.equal('abcdefghijklmno');
    expect(ifreqWithName('abcdefghijklmno')[15]).to.equal(0);
  });

  it('writes flags as a host-order short at offset 16 (x86_64/aarch64: little-endian)', () => {
    const ifr = ifreqWithName('t');
    setIfreqFlags(ifr, 0x1001);
    expect(hex(ifr.subarray(16, 18))).to.equal('0110');
    expect(ifreqFlags(ifr)).to.equal(0x1001);
    expect(hex(ifr.subarray(18))).to.equal('00'.repeat(22));
  });

  it('writes ifr_mtu/ifr_qlen as a host-order int at offset 16', () => {
    const ifr = ifreqWithName('t');
    setIfreqInt(ifr, 1500);
    expect(hex(ifr.subarray(16, 20))).to.equal('dc050000');
  });

  it('writes a sockaddr_in: family in host order, port and address in network order', () => {
    const ifr = ifreqWithName('t');
    ifr.fill(0xa5, 16);
    setIfreqAddress(ifr, 0x0a000102);
    expect(hex(ifr.subarray(16, 24))).to.equal('0200' + '0000' + '0a000102');
  });

  it('works on a subarray with a non-zero offset', () => {
    const backing = new Uint8Array(64);
    const ifr = backing.subarray(8, 48);
    setIfreqInt(ifr, 0x01020304);
    expect(hex(backing.subarray(24, 28))).to.equal('04030201');
  });

  it('turns prefix lengths into masks', () => {
    expect(prefixToMask(0)).to.equal(0);
    expect(prefixToMask(8)).to.equal(0xff000000);
    expect(prefixToMask(24)).to.equal(0xffffff00);
    expect(prefixToMask(31)).to.equal(0xfffffffe);
    expect(prefixToMask(32)).to.equal(0xffffffff);
  });
});

describe('errors', () => {
  it('names errnos', () => {
    expect(errnoName(16)).to.equal('EBUSY');
    expect(errnoName(1)).to.equal('EPERM');
    expect(errnoName(9999)).to.equal('E9999');
  });

  it('gives permission failures their own code and hint', () => {
    const e = configError('ioctl(SIOCSIFADDR)', 'EPERM');
    expect(e).to.be.instanceOf(TunError).and.instanceOf(Error);
    expect(e.code).to.equal('ERR_TUN_PERMISSION');
    expect(e.message).to.contain('CAP_NET_ADMIN');
    expect(e.errno).to.equal('EPERM');
    expect(e.syscall).to.equal('ioctl(SIOCSIFADDR)');
  });

  it('names the failing ioctl and errno in ERR_TUN_CONFIG', () => {
    const e = configError('ioctl(SIOCSIFMTU)', 'EINVAL', ' (mtu 70000)');
    expect(e.code).to.equal('ERR_TUN_CONFIG');
    expect(e.message).to.equal('ioctl(SIOCSIFMTU) failed: EINVAL (mtu 70000)');
    expect(e.name).to.equal('TunError');
  });
});
