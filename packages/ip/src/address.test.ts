import { expect } from 'chai';
import {
  ipv4FromString,
  ipv4Mask,
  ipv4ToString,
  isBroadcast,
  isBroadcastOrMulticast,
  isInSubnet,
  isIpv4Number,
  isIpv4String,
  isLoopback,
  isMulticast,
  isUnspecified,
  subnetBroadcast,
} from './address.js';
import { withSeed } from '../../../testing/random.js';

describe('IPv4 addresses', () => {
  it('parses strict dotted quads into uint32', () => {
    expect(ipv4FromString('10.0.0.1')).to.equal(0x0a000001);
    expect(ipv4FromString('0.0.0.0')).to.equal(0);
    expect(ipv4FromString('255.255.255.255')).to.equal(0xffffffff);
    expect(ipv4FromString('192.168.100.200')).to.equal(0xc0a864c8);
  });

  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-1', '1..3.4', 'a.b.c.d', '1.2.3.4/24', '0x1.2.3.4', '1e1.2.3.4']) {
    it(`rejects ${JSON.stringify(bad)} with ERR_INVALID_IP_ADDRESS`, () => {
      expect(isIpv4String(bad)).to.equal(false);
      expect(() => ipv4FromString(bad)).to.throw(TypeError).with.property('code', 'ERR_INVALID_IP_ADDRESS');
    });
  }

  it('rejects non-strings', () => {
    expect(isIpv4String(42)).to.equal(false);
    expect(() => ipv4FromString(42 as unknown as string)).to.throw(TypeError).with.property('code', 'ERR_INVALID_IP_ADDRESS');
  });

  it('formats uint32 and rejects non-addresses', () => {
    expect(ipv4ToString(0x0a000001)).to.equal('10.0.0.1');
    expect(ipv4ToString(0xffffffff)).to.equal('255.255.255.255');
    for (const bad of [-1, 0x100000000, 1.5, Number.NaN]) {
      expect(isIpv4Number(bad)).to.equal(false);
      expect(() => ipv4ToString(bad)).to.throw(TypeError).with.property('code', 'ERR_INVALID_IP_ADDRESS');
    }
  });

  it('round-trips random addresses', () => {
    withSeed((rng) => {
      for (let i = 0; i < 2000; i++) {
        const n = rng.u32();
        const s = ipv4ToString(n);
        expect(isIpv4String(s)).to.equal(true);
        expect(ipv4FromString(s)).to.equal(n);
      }
    });
  });

  it('classifies special addresses', () => {
    expect(isUnspecified(0)).to.equal(true);
    expect(isBroadcast(0xffffffff)).to.equal(true);
    expect(isMulticast(ipv4FromString('224.0.0.1'))).to.equal(true);
    expect(isMulticast(ipv4FromString('239.255.255.255'))).to.equal(true);
    expect(isMulticast(ipv4FromString('240.0.0.1'))).to.equal(false);
    expect(isLoopback(ipv4FromString('127.1.2.3'))).to.equal(true);
    expect(isBroadcastOrMulticast(0xffffffff)).to.equal(true);
    expect(isBroadcastOrMulticast(ipv4FromString('10.0.0.255'))).to.equal(false);
  });

  it('computes masks, subnets and directed broadcasts', () => {
    expect(ipv4Mask(0)).to.equal(0);
    expect(ipv4Mask(24)).to.equal(0xffffff00);
    expect(ipv4Mask(32)).to.equal(0xffffffff);
    expect(() => ipv4Mask(33)).to.throw(TypeError).with.property('code', 'ERR_INVALID_IP_ADDRESS');
    expect(isInSubnet(ipv4FromString('10.0.0.77'), ipv4FromString('10.0.0.0'), 24)).to.equal(true);
    expect(isInSubnet(ipv4FromString('10.0.1.77'), ipv4FromString('10.0.0.0'), 24)).to.equal(false);
    expect(subnetBroadcast(ipv4FromString('10.0.0.0'), 24)).to.equal(ipv4FromString('10.0.0.255'));
  });
});
