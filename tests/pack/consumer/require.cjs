// CommonJS consumers: the packages are ESM only, and `engines.node` (>=20.19.0) is the floor at
// which Node loads them with require() (require(esm), unflagged in 20.19.0).
const assert = require('node:assert/strict');
assert.equal(typeof require('@tcp-tun/ip').internetChecksum, 'function');
assert.equal(typeof require('@tcp-tun/tcp').TcpConnection, 'function');
assert.equal(typeof require('@tcp-tun/tun').openTun, 'function');
assert.equal(typeof require('@tcp-tun/net').Stack, 'function');
console.log('ok require()');
