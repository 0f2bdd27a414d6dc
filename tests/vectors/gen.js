// gen.js - test vectors made by an independent implementation, Node's crypto (OpenSSL inside),
// for test_crosscheck.c. Run at build time, so every build checks fresh keys and bodies.
//
// One vector a line, space separated, bodies in hex:
//   telnyx <public base64> <timestamp> <signature base64> <body hex>
//   v1     <whsec_...> <id> <timestamp> <v1,...> <body hex>
//   v1a    <whpk_...> <id> <timestamp> <v1a,...> <body hex>
'use strict';
const crypto = require('crypto');

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const lines = [];

function body(i) {
  // JSON-ish bodies, empty ones, and arbitrary bytes (the signature covers raw bytes, not JSON).
  if (i % 7 === 0) return Buffer.alloc(0);
  if (i % 5 === 0) return crypto.randomBytes(1 + (i * 37) % 3000);
  const ev = { data: { event_type: 'siprec.failed', id: crypto.randomUUID(),
    occurred_at: new Date().toISOString(), payload: { failure_cause: 'no_answer', n: i,
      text: 'ünïcødé ' + '✓'.repeat(i % 13) } }, meta: { attempt: 1 + (i % 3) } };
  return Buffer.from(JSON.stringify(ev, null, i % 2 ? 2 : 0) + (i % 3 ? '' : '\n'));
}

function rawPublic(key) {
  return key.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
}

for (let i = 0; i < 40; i++) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const ts = String(1700000000 + i);
  const b = body(i);
  const sig = crypto.sign(null, Buffer.concat([Buffer.from(ts + '|'), b]), privateKey);
  lines.push(['telnyx', rawPublic(publicKey).toString('base64'), ts, sig.toString('base64'),
    b.toString('hex') || '-'].join(' '));

  const id = 'msg_' + crypto.randomBytes(9).toString('base64url').replace(/[-_]/g, 'x');
  const signed = Buffer.concat([Buffer.from(`${id}.${ts}.`), b]);
  const secret = crypto.randomBytes(24 + (i % 41));
  const mac = crypto.createHmac('sha256', secret).update(signed).digest('base64');
  lines.push(['v1', 'whsec_' + secret.toString('base64'), id, ts, 'v1,' + mac,
    b.toString('hex') || '-'].join(' '));

  const ed = crypto.sign(null, signed, privateKey).toString('base64');
  const pub = i % 2 ? rawPublic(publicKey) : publicKey.export({ format: 'der', type: 'spki' });
  lines.push(['v1a', 'whpk_' + pub.toString('base64'), id, ts, 'v1a,' + ed,
    b.toString('hex') || '-'].join(' '));
}
process.stdout.write(lines.join('\n') + '\n');
