import { expect } from 'chai';
import {
  IPV6_LOOPBACK,
  IPV6_UNSPECIFIED,
  ipv4FromMapped,
  ipv4ToMapped,
  ipv6Equals,
  ipv6FromString,
  ipv6ToString,
  isIpv4Mapped,
  isIpv6LinkLocal,
  isIpv6Loopback,
  isIpv6Multicast,
  isIpv6String,
  isIpv6Unspecified,
} from './address6.js';
import { withSeed } from '../../../testing/random.js';

const bytesOf = (hexText: string): Uint8Array => Uint8Array.from(hexText.match(/../g)!.map((h) => parseInt(h, 16)));

describe('IPv6 addresses', () => {
  const cases: [string, string][] = [
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['1::', '00010000000000000000000000000000'],
    ['fd00::1', 'fd000000000000000000000000000001'],
    ['FD00:0:0:0:0:0:0:1', 'fd000000000000000000000000000001'],
    ['2001:db8:0:0:1:0:0:1', '20010db8000000000001000000000001'],
    ['2001:0db8:85a3:0000:0000:8a2e:0370:7334', '20010db885a3000000008a2e03707334'],
    ['::ffff:10.0.0.1', '00000000000000000000ffff0a000001'],
    ['1:2:3:4:5:6:1.2.3.4', '00010002000300040005000601020304'],
    ['::1.2.3.4', '00000000000000000000000001020304'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
    ['::2:3:4:5:6:7:8', '00000002000300040005000600070008'],
    ['fe80::1:2', 'fe800000000000000000000000010002'],
  ];
  for (const [text, octets] of cases) {
    it(`parses ${text}`, () => {
      expect(isIpv6String(text)).to.equal(true);
      expect(Array.from(ipv6FromString(text))).to.deep.equal(Array.from(bytesOf(octets)));
    });
  }

  for (const bad of ['', ':', ':::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::1', ':1::2', '1::2:', '1:::2',
    'fe80::1%eth0', '[::1]', '::1/128', ' ::1', '::1 ', '::ffff:1.2.3', '::ffff:256.0.0.1', '::ffff:01.2.3.4', '1.2.3.4::',
    '1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3.4:5', '1:2:3:4:5:6:7:8::', '0x1::']) {
    it(`rejects ${JSON.stringify(bad)} with ERR_INVALID_IP_ADDRESS`, () => {
      expect(isIpv6String(bad)).to.equal(false);
      expect(() => ipv6FromString(bad)).to.throw(TypeError).with.property('code', 'ERR_INVALID_IP_ADDRESS');
    });
  }

  it('rejects non-strings and formats only 16 octets', () => {
    expect(isIpv6String(6)).to.equal(false);
    expect(() => ipv6FromString(undefined as unknown as string)).to.throw(TypeError).with.property('code', 'ERR_INVALID_IP_ADDRESS');
    expect(() => ipv6ToString(new Uint8Array(4))).to.throw(TypeError).with.property('code', 'ERR_INVALID_IP_ADDRESS');
  });

  // RFC 5952 §4 and §5, one row per rule.
  const canonical: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'], // §4.1 leading zeros, §4.2.1 longest
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2 one zero group is not shortened
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // §4.2.3 the longest run
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // §4.2.3 the first of equal runs
    ['2001:DB8::ABCD', '2001:db8::abcd'], // §4.3 lower case
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['::ffff:0a00:0001', '::ffff:10.0.0.1'], // §5 mapped addresses as a dotted quad
    ['::1.2.3.4', '::102:304'], // deprecated compatible form is not special
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
  ];
  for (const [input, text] of canonical) {
    it(`formats ${input} as ${text}`, () => {
      expect(ipv6ToString(ipv6FromString(input))).to.equal(text);
    });
  }

  it('round-trips random addresses through canonical text', () => {
    withSeed((rng) => {
      for (let i = 0; i < 3000; i++) {
        const a = rng.bytes(16);
        // Zero runs of random length so that `::` placement is exercised.
        if (rng.chance(0.7)) a.fill(0, rng.int(16), rng.int(17));
        if (rng.chance(0.1)) a.set(ipv4ToMapped(rng.u32()));
        const text = ipv6ToString(a);
        expect(isIpv6String(text), text).to.equal(true);
        expect(ipv6Equals(ipv6FromString(text), a), text).to.equal(true);
        expect(text).to.equal(text.toLowerCase());
        expect(text.split('::').length).to.be.at.most(2);
      }
    });
  });

  it('compares and classifies', () => {
    expect(ipv6Equals(ipv6FromString('fd00::1'), ipv6FromString('fd00:0::1'))).to.equal(true);
    expect(ipv6Equals(ipv6FromString('fd00::1'), ipv6FromString('fd00::2'))).to.equal(false);
    expect(isIpv6Unspecified(IPV6_UNSPECIFIED)).to.equal(true);
    expect(isIpv6Unspecified(IPV6_LOOPBACK)).to.equal(false);
    expect(isIpv6Loopback(IPV6_LOOPBACK)).to.equal(true);
    expect(isIpv6Loopback(ipv6FromString('::2'))).to.equal(false);
    expect(isIpv6Loopback(ipv6FromString('1::1'))).to.equal(false);
    expect(isIpv6Multicast(ipv6FromString('ff02::1'))).to.equal(true);
    expect(isIpv6Multicast(ipv6FromString('fe80::1'))).to.equal(false);
    expect(isIpv6LinkLocal(ipv6FromString('fe80::1'))).to.equal(true);
    expect(isIpv6LinkLocal(ipv6FromString('febf::1'))).to.equal(true);
    expect(isIpv6LinkLocal(ipv6FromString('fec0::1'))).to.equal(false);
    expect(ipv6ToString(IPV6_UNSPECIFIED)).to.equal('::');
    expect(ipv6ToString(IPV6_LOOPBACK)).to.equal('::1');
  });

  it('maps IPv4 addresses into ::ffff:0:0/96 and back', () => {
    const mapped = ipv4ToMapped(0x0a000001);
    expect(ipv6ToString(mapped)).to.equal('::ffff:10.0.0.1');
    expect(isIpv4Mapped(mapped)).to.equal(true);
    expect(ipv4FromMapped(mapped)).to.equal(0x0a000001);
    expect(ipv4FromMapped(ipv4ToMapped(0xffffffff))).to.equal(0xffffffff);
    expect(isIpv4Mapped(ipv6FromString('::fffe:10.0.0.1'))).to.equal(false);
    expect(isIpv4Mapped(ipv6FromString('1::ffff:10.0.0.1'))).to.equal(false);
  });
});
