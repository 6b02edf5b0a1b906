/**
 * IP addresses in the TCP layer (address.ts) and the rules that depend on the family: the MSS
 * (RFC 9293 §3.7.1, RFC 8200 §8.3), the per-family config (`configForFamily`), and an IPv6
 * connection's SYN, default peer MSS and options, against the same over IPv4.
 */
import { expect } from 'chai';
import { ipv4ToMapped, ipv6FromString } from '@tcp-tun/ip';
import {
  IPV6_MIN_MTU, defaultPeerMss, ipAddressEquals, ipFamily, ipTcpOverhead, isIpv4, isUnspecifiedAddress, mssForMtu, type IpAddress,
} from './address.js';
import { DEFAULT_TCP_CONFIG, configForFamily, resolveTcpConfig } from './config.js';
import { TcpConnection } from './connection.js';
import { TcpListener } from './listener.js';
import { FROM_PEER, IRS, ISS, LOCAL, LOCAL6, REMOTE, REMOTE6, TO_PEER, TRACE_CONFIG, events, expectSent, send } from './__tests__/trace.js';

const NONE = new Uint8Array(0);

describe('IP addresses in the TCP layer', () => {
  const a6 = ipv6FromString('2001:db8::1');

  it('tells the families apart by type alone; equality never crosses families, an IPv4-mapped address included', () => {
    expect(isIpv4(0x0a000001)).to.equal(true);
    expect(isIpv4(a6)).to.equal(false);
    expect([ipFamily(0), ipFamily(a6)]).to.deep.equal([4, 6]);
    expect(ipAddressEquals(0x0a000001, 0x0a000001)).to.equal(true);
    expect(ipAddressEquals(0x0a000001, 0x0a000002)).to.equal(false);
    expect(ipAddressEquals(a6, ipv6FromString('2001:db8:0::1'))).to.equal(true);
    expect(ipAddressEquals(a6, ipv6FromString('2001:db8::2'))).to.equal(false);
    expect(ipAddressEquals(ipv4ToMapped(0x0a000001), 0x0a000001)).to.equal(false);
    expect(ipAddressEquals(0x0a000001, ipv4ToMapped(0x0a000001))).to.equal(false);
    expect([isUnspecifiedAddress(0), isUnspecifiedAddress(ipv6FromString('::')), isUnspecifiedAddress(a6), isUnspecifiedAddress(1)]).to.deep.equal([true, true, false, false]);
  });

  it('MSS = MTU − 40 over IPv4, MTU − 60 over IPv6; 536 and 1220 without the option; bad MTUs throw a coded RangeError', () => {
    expect([ipTcpOverhead(4), ipTcpOverhead(6)]).to.deep.equal([40, 60]);
    expect([mssForMtu(1500, 4), mssForMtu(1500, 6), mssForMtu(IPV6_MIN_MTU, 6), mssForMtu(65535, 6)]).to.deep.equal([1460, 1440, 1220, 65475]);
    expect([defaultPeerMss(4), defaultPeerMss(6)]).to.deep.equal([536, 1220]);
    for (const [mtu, family] of [[60, 6], [40, 4], [1500.5, 4], [Number.NaN, 6], [1500, 5]] as const) {
      expect(() => mssForMtu(mtu, family as 4 | 6), `${mtu}/${family}`).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    }
  });

  it('configForFamily: IPv4 gets the config itself; IPv6 a frozen, resolved copy with the MSS 20 octets smaller, made once and stable when derived again', () => {
    const cfg = resolveTcpConfig({ mss: 1460, sack: false });
    expect(configForFamily(cfg, 4)).to.equal(cfg);
    const v6 = configForFamily(cfg, 6);
    expect(v6).to.deep.equal({ ...cfg, mss: 1440 });
    expect(Object.isFrozen(v6)).to.equal(true);
    expect(configForFamily(cfg, 6)).to.equal(v6);
    expect(configForFamily(v6, 6)).to.equal(v6);
    expect(resolveTcpConfig(v6)).to.equal(v6);
    expect(configForFamily(DEFAULT_TCP_CONFIG, 6).mss).to.equal(1440);
    // Never below the engine's floor of 64.
    expect(configForFamily(resolveTcpConfig({ mss: 70 }), 6).mss).to.equal(64);
  });
});

describe('a connection over IPv6', () => {
  const CFG = { ...TRACE_CONFIG, mss: 1460 };

  it('its SYN announces the IPv6 MSS (config − 20) and its config says so; an IPv4 one is unchanged', () => {
    const c6 = TcpConnection.connect<IpAddress>(0, { local: LOCAL6, remote: REMOTE6, iss: ISS, config: CFG });
    expect(c6.config.mss).to.equal(1440);
    expectSent(c6, 0, [{ ...TO_PEER, control: 'syn', seq: ISS, mss: 1440 }]);
    const c4 = TcpConnection.connect(0, { local: LOCAL, remote: REMOTE, iss: ISS, config: CFG });
    expectSent(c4, 0, [{ ...TO_PEER, control: 'syn', seq: ISS, mss: 1460 }]);
    // Passing a connection's own config on does not lower the MSS twice.
    const again = TcpConnection.connect<IpAddress>(0, { local: LOCAL6, remote: REMOTE6, iss: ISS, config: c6.config });
    expect(again.config.mss).to.equal(1440);
  });

  it('a peer SYN-ACK without the MSS option means 1220 over IPv6 (RFC 9293 §3.7.1), 536 over IPv4', () => {
    const c6 = TcpConnection.connect<IpAddress>(0, { local: LOCAL6, remote: REMOTE6, iss: ISS, config: CFG });
    expectSent(c6, 0, [{ control: 'syn' }]);
    send(c6, 10, { control: 'syn', seq: IRS, ack: ISS + 1, window: 10_000 });
    expect(events(c6)).to.deep.equal(['connected']);
    expect(c6.stats.sendMss).to.equal(1220);
    const c4 = TcpConnection.connect(0, { local: LOCAL, remote: REMOTE, iss: ISS, config: CFG });
    expectSent(c4, 0, [{ control: 'syn' }]);
    send(c4, 10, { control: 'syn', seq: IRS, ack: ISS + 1, window: 10_000 });
    expect(c4.stats.sendMss).to.equal(536);
  });

  it('a listener on :: accepts an IPv6 SYN: SYN-ACK with the IPv6 MSS, the peer\'s MSS 1220 by default', () => {
    const l = new TcpListener<IpAddress>({ local: { addr: ipv6FromString('::'), port: LOCAL.port }, backlog: 4, config: CFG, isn: () => ISS });
    const r = l.handleSegment(0, LOCAL6, REMOTE6, { ...FROM_PEER, control: 'syn', seq: IRS }, NONE);
    if (r.kind !== 'connection') throw new Error(r.kind);
    expectSent(r.connection, 0, [{ ...TO_PEER, control: 'syn', seq: ISS, ack: IRS + 1, mss: 1440 }]);
    send(r.connection, 10, { ...FROM_PEER, seq: IRS + 1, ack: ISS + 1, window: 10_000 });
    expect(r.connection.state).to.equal('ESTABLISHED');
    expect(r.connection.stats.sendMss).to.equal(1220);
  });
});
