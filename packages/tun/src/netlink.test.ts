import { expect } from 'chai';
import { ackErrno, newAddressMessage, newHostRouteMessage } from './netlink.js';
import { parseIpv6 } from './ipv6-text.js';
import { LITTLE_ENDIAN } from './vnet.js';

const bytes = (text: string): string => Buffer.from(text.replace(/\s+/g, ''), 'hex').toString('hex');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('rtnetlink messages', function () {
  before(function () {
    // The expected bytes are little-endian hosts' (x86_64, aarch64): netlink is host order.
    if (!LITTLE_ENDIAN) this.skip();
  });

  it('RTM_NEWADDR: /128, IFA_F_NODAD, IFA_LOCAL = ours, IFA_ADDRESS = the peer', () => {
    const message = newAddressMessage(7, parseIpv6('fd00::1')!, parseIpv6('fd00::2')!);
    expect(hex(message)).to.equal(bytes(`
      40000000 1400 0506 01000000 00000000
      0a 80 02 00 07000000
      1400 0200 fd000000000000000000000000000001
      1400 0100 fd000000000000000000000000000002`));
    // Without a peer IFA_ADDRESS repeats the address: no peer, no route.
    const alone = newAddressMessage(7, parseIpv6('fd00::1')!, undefined);
    expect(hex(alone.subarray(44))).to.equal(bytes('1400 0100 fd000000000000000000000000000001'));
  });

  it('RTM_NEWROUTE: dst/128 out of the interface, main table, protocol boot, unicast', () => {
    const message = newHostRouteMessage(7, parseIpv6('fd00::2')!);
    expect(hex(message)).to.equal(bytes(`
      38000000 1800 0506 01000000 00000000
      0a 80 00 00 fe 03 00 01 00000000
      1400 0100 fd000000000000000000000000000002
      0800 0400 07000000`));
  });

  it('reads the acknowledgement: 0 is success, a negative errno is its name, anything else EPROTO', () => {
    const ack = (error: number, type = 2): Uint8Array => {
      const b = new Uint8Array(36);
      const v = new DataView(b.buffer);
      v.setUint32(0, 36, true);
      v.setUint16(4, type, true);
      v.setInt32(16, error, true);
      return b;
    };
    expect(ackErrno(ack(0))).to.equal(undefined);
    expect(ackErrno(ack(-17))).to.equal('EEXIST');
    expect(ackErrno(ack(-1))).to.equal('EPERM');
    expect(ackErrno(ack(0, 3))).to.equal('EPROTO');
    expect(ackErrno(new Uint8Array(8))).to.equal('EPROTO');
  });
});
