// receiver.js - a Telnyx webhook receiver written with Node's own http and crypto, independent of
// hookd's code, for testing `hookd send`.
//
//   node receiver.js PUBLIC_KEY_BASE64 LOG_FILE
// Prints "listening PORT" once ready. Each request is verified (Ed25519 over "timestamp|body",
// 300 s window) and logged as one JSON line. The path picks the answer:
//   /ok       200            /fail   500            /created  201 (not success for Telnyx)
//   /flaky/K  500 for the first K requests to this path, then 200
//   /hang     never answers (the sender's timeout must fire)
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');

const [pubB64, logFile] = process.argv.slice(2);
const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(pubB64, 'base64')]);
const key = crypto.createPublicKey({ key: spki, format: 'der', type: 'spki' });
const seen = new Map();

function verify(req, body) {
  const ts = req.headers['telnyx-timestamp'];
  const sig = req.headers['telnyx-signature-ed25519'];
  if (!ts || !sig) return 'missing header';
  if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) return 'stale';
  const ok = crypto.verify(null, Buffer.concat([Buffer.from(ts + '|'), body]), key, Buffer.from(sig, 'base64'));
  return ok ? 'valid' : 'invalid';
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const n = (seen.get(req.url) || 0) + 1;
    seen.set(req.url, n);
    let json = null;
    try { json = JSON.parse(body); } catch (e) { /* a raw body is fine */ }
    const entry = {
      path: req.url, n, method: req.method, verdict: verify(req, body),
      user_agent: req.headers['user-agent'], content_type: req.headers['content-type'],
      signature: req.headers['telnyx-signature-ed25519'],
      sha256: crypto.createHash('sha256').update(body).digest('hex'),
      id: json && json.data && json.data.id, event_type: json && json.data && json.data.event_type,
      occurred_at: json && json.data && json.data.occurred_at,
      payload: json && json.data && json.data.payload,
      attempt: json && json.meta && json.meta.attempt, delivered_to: json && json.meta && json.meta.delivered_to,
    };
    fs.appendFileSync(logFile, JSON.stringify(entry) + '\n');
    if (entry.verdict !== 'valid') { res.writeHead(401); res.end(entry.verdict); return; }
    const flaky = /^\/flaky\/(\d+)$/.exec(req.url);
    if (req.url === '/hang') return; // never answer
    const status = req.url === '/ok' ? 200 : req.url === '/created' ? 201
      : flaky ? (n <= Number(flaky[1]) ? 500 : 200) : 500;
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(String(status));
  });
}).listen(0, '127.0.0.1', function () {
  console.log('listening ' + this.address().port);
});
