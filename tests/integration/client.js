// client.js - a Telnyx-like sender written with Node's http and crypto (not hookd's code), for
// the daemon's tests.
//
//   node client.js load URL SEED_B64 N CONCURRENCY DUPLICATE_EVERY OUT_FILE
//     Sends N distinct signed siprec.failed events over CONCURRENCY keep-alive connections, and
//     again every DUPLICATE_EVERY-th one as a redelivery (same data.id, meta.attempt 2, so a new
//     body and signature). Writes one JSON line per response {id, status, result} to OUT_FILE and
//     a summary to stdout. Connection errors are counted, not fatal (tests kill the server).
//   node client.js load URL SEED_B64 N CONCURRENCY 0 OUT_FILE CALLS
//     The same with N events spread over CALLS calls (call_session_id call-0 ...), each call's
//     events occurring 1 ms apart in order, sent in a shuffled order.
//   node client.js cluster URL,URL,... SEED_B64 CALLS PER_CALL DUP_PERCENT CONCURRENCY OUT_FILE
//     Several nodes, sent to as Telnyx would: each call's PER_CALL call.dtmf.received events go
//     one after another (occurred_at 1 ms apart, each sent once the one before got its 200), to
//     the nodes in turn; a connection error or a 503 sends it again to the next node (failover);
//     DUP_PERCENT of the events are then redelivered to another node. CONCURRENCY calls at a time.
//     One JSON line per final answer {id, call, seq, node, status, result, dup} to OUT_FILE.
//   node client.js sign SEED_B64 BODY_FILE [TIMESTAMP]
//     Prints "TIMESTAMP SIGNATURE" for BODY_FILE, signed as Telnyx signs.
//   node client.js raw PORT REQUEST_FILE
//     Sends REQUEST_FILE's bytes as they are and prints the status line of the answer.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const net = require('net');

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const privateKey = (seed) => crypto.createPrivateKey({
  key: Buffer.concat([PKCS8_PREFIX, Buffer.from(seed, 'base64')]), format: 'der', type: 'pkcs8' });

function sign(key, body, ts = String(Math.floor(Date.now() / 1000))) {
  const sig = crypto.sign(null, Buffer.concat([Buffer.from(ts + '|'), body]), key).toString('base64');
  return { ts, sig };
}

function event(id, attempt, url, call, occurred, type = 'siprec.failed') {
  const session = call || crypto.createHash('sha1').update(id).digest('hex').slice(0, 8);
  return Buffer.from(JSON.stringify({
    data: { record_type: 'event', event_type: type, id,
      occurred_at: (occurred || new Date()).toISOString().replace('Z', '123Z'),
      payload: { call_control_id: 'v3:' + session, call_leg_id: session, call_session_id: session,
        connection_id: '1', client_state: 'aGk=', failure_cause: 'no_answer' } },
    meta: { attempt, delivered_to: url } }));
}

async function load(url, seed, n, concurrency, dupEvery, outFile, calls) {
  const key = privateKey(seed);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const jobs = [];
  const base = Date.now() - 60000;
  for (let i = 0; i < n; i++) {
    const id = crypto.randomUUID();
    const call = calls > 0 ? { call: 'call-' + (i % calls), occurred: new Date(base + Math.floor(i / calls)) } : {};
    jobs.push({ id, attempt: 1, ...call });
    if (dupEvery > 0 && i % dupEvery === 0) jobs.push({ id, attempt: 2, ...call });
  }
  if (calls > 0) {
    for (let i = jobs.length - 1; i > 0; i--) {
      const j = crypto.randomInt(i + 1);
      [jobs[i], jobs[j]] = [jobs[j], jobs[i]];
    }
  }
  const out = fs.openSync(outFile, 'w');
  const summary = { sent: 0, ok: 0, accepted: 0, duplicate: 0, errors: 0, statuses: {} };
  let next = 0;
  const post = (job) => postTo(agent, url, key, event(job.id, job.attempt, url, job.call, job.occurred));
  async function worker() {
    while (next < jobs.length) {
      const job = jobs[next++];
      const r = await post(job);
      summary.sent++;
      summary.statuses[r.status] = (summary.statuses[r.status] || 0) + 1;
      if (r.status === 0) summary.errors++;
      if (r.status === 200) summary.ok++;
      if (r.result === 'accepted') summary.accepted++;
      if (r.result === 'duplicate') summary.duplicate++;
      fs.writeSync(out, JSON.stringify({ id: job.id, attempt: job.attempt, status: r.status,
        result: r.result }) + '\n');
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  fs.closeSync(out);
  agent.destroy();
  console.log(JSON.stringify(summary));
}

function postTo(agent, url, key, body) {
  const target = new URL(url);
  const { ts, sig } = sign(key, body);
  return new Promise((resolve) => {
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname,
      method: 'POST', agent, headers: { 'content-type': 'application/json',
        'user-agent': 'telnyx-webhooks', 'telnyx-timestamp': ts, 'telnyx-signature-ed25519': sig,
        'content-length': body.length } },
    (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        let result = null;
        try { result = JSON.parse(Buffer.concat(chunks)).status; } catch (e) { /* not JSON */ }
        resolve({ status: res.statusCode, result });
      });
      res.on('error', () => resolve({ status: 0, result: 'error' }));
    });
    req.on('error', () => resolve({ status: 0, result: 'error' }));
    req.setTimeout(30000, () => req.destroy());
    req.end(body);
  });
}

async function cluster(urls, seed, calls, perCall, dupPercent, concurrency, outFile) {
  const key = privateKey(seed);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency * 2 });
  const out = fs.openSync(outFile, 'w');
  const base = Date.now() - 60000;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const summary = { calls, events: calls * perCall, sent: 0, ok: 0, failovers: 0, dups: 0, gaveUp: 0 };
  // Send until some node stores it, from node `first` on: failover on an error or a 503.
  async function deliver(body, first, rec) {
    for (let tries = 0; tries < urls.length * 40; tries++) {
      const node = (first + tries) % urls.length;
      const r = await postTo(agent, urls[node], key, body);
      summary.sent++;
      if (r.status === 200) {
        summary.ok++;
        fs.writeSync(out, JSON.stringify({ ...rec, node, status: 200, result: r.result }) + '\n');
        return node;
      }
      summary.failovers++;
      if (tries % urls.length === urls.length - 1) await sleep(100);
    }
    summary.gaveUp++;
    fs.writeSync(out, JSON.stringify({ ...rec, node: -1, status: 0, result: 'gave up' }) + '\n');
    return -1;
  }
  let nextCall = 0;
  async function worker() {
    while (nextCall < calls) {
      const c = nextCall++;
      const call = 'mc-' + c + '-' + crypto.randomBytes(3).toString('hex');
      for (let i = 0; i < perCall; i++) {
        const id = crypto.randomUUID();
        const occurred = new Date(base + i);
        const rec = { id, call, seq: i, dup: false };
        const node = await deliver(event(id, 1, urls[0], call, occurred, 'call.dtmf.received'),
          (c + i) % urls.length, rec);
        if (node >= 0 && crypto.randomInt(100) < dupPercent) {
          summary.dups++;
          await deliver(event(id, 2, urls[0], call, occurred, 'call.dtmf.received'),
            (node + 1) % urls.length, { ...rec, dup: true });
        }
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  fs.closeSync(out);
  agent.destroy();
  console.log(JSON.stringify(summary));
}

function raw(port, file) {
  const sock = net.connect(Number(port), '127.0.0.1', () => sock.write(fs.readFileSync(file)));
  let data = '';
  sock.setTimeout(5000, () => { console.log('timeout'); sock.destroy(); });
  sock.on('data', (c) => {
    data += c;
    const line = data.split('\r\n')[0];
    if (data.includes('\r\n\r\n')) { console.log(line); sock.destroy(); }
  });
  sock.on('error', (e) => console.log('error ' + e.code));
  sock.on('close', () => { if (!data) console.log('closed'); });
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'load') load(args[0], args[1], Number(args[2]), Number(args[3]), Number(args[4]), args[5],
  Number(args[6] || 0));
else if (cmd === 'cluster') cluster(args[0].split(','), args[1], Number(args[2]), Number(args[3]),
  Number(args[4]), Number(args[5]), args[6]);
else if (cmd === 'sign') {
  const { ts, sig } = sign(privateKey(args[0]), fs.readFileSync(args[1]), args[2]);
  console.log(ts + ' ' + sig);
} else if (cmd === 'raw') raw(args[0], args[1]);
else { console.error('usage: client.js load|sign|raw ...'); process.exit(2); }
