// Tests of bench/lib/family.mjs: the FAMILY switch, the IPv6 twins and URL hosts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { echoAddressFlags, ipv6Stacks, parseFamilies, urlHost, V6 } from './family.mjs';

test('FAMILY: 4,6 by default, 4 or 6 alone, anything else refused', () => {
  assert.deepEqual(parseFamilies(), [4, 6]);
  assert.deepEqual(parseFamilies('4'), [4]);
  assert.deepEqual(parseFamilies('6'), [6]);
  assert.deepEqual(parseFamilies(' 6, 4 ,6'), [6, 4]);
  for (const bad of ['', '5', 'v6', '4,ipv6']) assert.throws(() => parseFamilies(bad), /FAMILY must be/);
});

test('the IPv6 twins name their IPv4 twin, have namespaces of their own, and the no-offload one can be left out', () => {
  const all = ipv6Stacks('42');
  assert.deepEqual(all.map((s) => [s.id, s.v4, s.family]), [['ours6', 'ours', 6], ['plain6', 'plain', 6], ['kernel6', 'kernel', 6]]);
  assert.equal(new Set(all.flatMap((s) => [s.ns, s.server].filter(Boolean))).size, 4);
  assert.ok(all.every((s) => s.ns.endsWith('-42')));
  assert.equal(ipv6Stacks('42', { noOffload: false }).find((s) => s.id === 'plain6').on, false);
  assert.deepEqual(echoAddressFlags(all[0]), ['--addr6', V6.stack, '--peer6', V6.peer]);
  assert.deepEqual(echoAddressFlags({ family: 4 }), []);
});

test('URL hosts: IPv6 literals in brackets (RFC 3986 §3.2.2), IPv4 as is', () => {
  assert.equal(urlHost('fd00:b::2'), '[fd00:b::2]');
  assert.equal(urlHost('10.0.0.2'), '10.0.0.2');
});
