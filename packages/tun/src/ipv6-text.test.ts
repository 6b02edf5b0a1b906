import { expect } from 'chai';
import { formatIpv6, ipv6Hex, parseIpv6, unusableIpv6 } from './ipv6-text.js';

const hex = (text: string): string | undefined => {
  const bytes = parseIpv6(text);
  return bytes === undefined ? undefined : ipv6Hex(bytes);
};

describe('ipv6-text', () => {
  it('parses every RFC 4291 §2.2 form', () => {
    expect(hex('fd00:0:0:0:0:0:0:1')).to.equal('fd000000000000000000000000000001');
    expect(hex('FD00::1')).to.equal('fd000000000000000000000000000001');
    expect(hex('::')).to.equal('0'.repeat(32));
    expect(hex('::1')).to.equal(`${'0'.repeat(31)}1`);
    expect(hex('1::')).to.equal(`0001${'0'.repeat(28)}`);
    expect(hex('2001:db8::8:800:200c:417a')).to.equal('20010db80000000000080800200c417a');
    expect(hex('::ffff:10.0.0.1')).to.equal('00000000000000000000ffff0a000001');
    expect(hex('64:ff9b::192.0.2.33')).to.equal('0064ff9b0000000000000000c0000221');
    expect(hex('1:2:3:4:5:6:7::')).to.equal('00010002000300040005000600070000');
  });

  it('refuses malformed text, zones and prefixes', () => {
    for (const bad of ['', ':', ':::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1::2::3', '12345::', 'fe80::1%eth0', 'fd00::1/64',
      'g::1', '::1.2.3', '::256.0.0.1', '1.2.3.4', ':1::', '1::2:', '[::1]', ' ::1', '::01.2.3.4', '1:2:3:4:5:6:7:8::']) {
      expect(parseIpv6(bad), bad).to.equal(undefined);
    }
  });

  it('formats as RFC 5952 §4 says', () => {
    const round = (text: string): string => formatIpv6(parseIpv6(text)!);
    expect(round('2001:0db8:0000:0000:0000:0000:0000:0001')).to.equal('2001:db8::1');
    expect(round('2001:db8:0:0:1:0:0:1')).to.equal('2001:db8::1:0:0:1'); // first of two equal runs
    expect(round('2001:db8:0:1:1:1:1:1')).to.equal('2001:db8:0:1:1:1:1:1'); // one zero group stays
    expect(round('2001:0:0:1:0:0:0:1')).to.equal('2001:0:0:1::1'); // the longest run
    expect(round('FD00::ABCD')).to.equal('fd00::abcd');
    expect(round('::')).to.equal('::');
    expect(round('::1')).to.equal('::1');
    expect(round('1::')).to.equal('1::');
    expect(round('::ffff:0a00:0001')).to.equal('::ffff:10.0.0.1'); // §5
    expect(() => formatIpv6(new Uint8Array(4))).to.throw(RangeError);
  });

  it('says why an address cannot be an interface end', () => {
    expect(unusableIpv6(parseIpv6('::')!)).to.contain('unspecified');
    expect(unusableIpv6(parseIpv6('::1')!)).to.contain('loopback');
    expect(unusableIpv6(parseIpv6('ff02::1')!)).to.contain('multicast');
    expect(unusableIpv6(parseIpv6('::ffff:10.0.0.1')!)).to.contain('IPv4-mapped');
    expect(unusableIpv6(parseIpv6('fd00::1')!)).to.equal(undefined);
    expect(unusableIpv6(parseIpv6('fe80::1')!)).to.equal(undefined);
  });
});
