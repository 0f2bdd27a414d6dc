// target.js - an HTTP target for dispatch tests, written with Node's http (not hookd's code).
//   node target.js LOG_FILE       prints "listening PORT"; logs each request as one JSON line.
// By path:  /ok 200 | /flaky/K 500 for the first K requests, then 200 | /fail 500 | /gone 410 |
//           /busy/N 503 with Retry-After: N, then 200 | /after/TEXT 503 with Retry-After: TEXT
//           (URL-decoded), always | /v2/calls/ID/actions/siprec_start 200
'use strict';
const http = require('http');
const fs = require('fs');
const [logFile] = process.argv.slice(2);
const seen = new Map();
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const n = (seen.get(req.url) || 0) + 1;
    seen.set(req.url, n);
    const body = Buffer.concat(chunks).toString();
    fs.appendFileSync(logFile, JSON.stringify({ path: req.url, n, at: Date.now(),
      webhook_id: req.headers['webhook-id'], signature: req.headers['webhook-signature'],
      authorization: req.headers.authorization, body }) + '\n');
    let status = 500;
    const flaky = /^\/flaky\/(\d+)$/.exec(req.url);
    const busy = /^\/busy\/(\d+)$/.exec(req.url);
    const after = /^\/after\/(.+)$/.exec(req.url);
    if (req.url === '/ok' || /^\/v2\/calls\/[^/]+\/actions\/siprec_start$/.test(req.url)) status = 200;
    else if (flaky) status = n <= Number(flaky[1]) ? 500 : 200;
    else if (req.url === '/gone') status = 410;
    else if (busy && n === 1) { res.setHeader('Retry-After', busy[1]); status = 503; }
    else if (busy) status = 200;
    else if (after) { res.setHeader('Retry-After', decodeURIComponent(after[1])); status = 503; }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status, n }));
  });
}).listen(0, '127.0.0.1', function () { console.log('listening ' + this.address().port); });
