// receiver.js - the reference row of `make bench`: what a user writes in an afternoon with the
// official Telnyx SDK (npm "telnyx"). Node's http server, the raw body as a string,
// client.webhooks.unwrap() to verify (Ed25519 over "timestamp|body", the 300 s window) and parse,
// then 200. It stores nothing: no file, no database, no fsync. Usage: node receiver.js PUBLIC_KEY;
// prints {"port":N} once listening on 127.0.0.1.
'use strict';
const http = require('http');
const Telnyx = require('telnyx');

const client = new Telnyx({ apiKey: 'unused-by-webhooks', publicKey: process.argv[2] });
let accepted = 0, refused = 0;

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      const event = await client.webhooks.unwrap(Buffer.concat(chunks).toString('utf8'), { headers: req.headers });
      accepted++;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'accepted', id: event.data && event.data.id }));
    } catch (e) {
      refused++;
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'rejected', message: String(e.message) }));
    }
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
process.on('SIGTERM', () => {
  console.log(JSON.stringify({ accepted, refused }));
  process.exit(0);
});
