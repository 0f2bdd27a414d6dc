// console.js - the console in a real browser (Debian's headless Chromium, tests/browser/cdp.js):
// sign in, visit every page at a laptop's and a phone's size, then: no console error, no failed
// request, no request to another origin, no CSP violation; stored fields carrying markup show
// literally and run nothing; a new event appears on the events page without a reload; Replay
// queues deliveries; the keyboard reaches the navigation. A screenshot of each page is saved.
//
//   node console.js   (environment: CONSOLE_URL, TOKEN, HOOK_URL, SEED, SHOT_DIR, SIPREC_ID)
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { Browser } = require('./cdp');

const { CONSOLE_URL, TOKEN, HOOK_URL, SEED, SHOT_DIR, SIPREC_ID } = process.env;
const ORIGIN = new URL(CONSOLE_URL).origin;
let passed = 0, failed = 0;
function check(ok, what, detail) {
  if (ok) { passed++; console.log(`ok - ${what}`); }
  else { failed++; console.log(`not ok - ${what}`); if (detail !== undefined) console.log(`#   ${JSON.stringify(detail)}`); }
}

// Sign as Telnyx does (Node's crypto, not hookd's) and POST to the receiver.
function deliver(body) {
  const key = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'),
    Buffer.from(SEED, 'base64')]), format: 'der', type: 'pkcs8' });
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = crypto.sign(null, Buffer.concat([Buffer.from(ts + '|'), Buffer.from(body)]), key).toString('base64');
  return new Promise((resolve, reject) => {
    const req = http.request(HOOK_URL, { method: 'POST', headers: { 'content-type': 'application/json',
      'telnyx-timestamp': ts, 'telnyx-signature-ed25519': sig } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.end(body);
  });
}

function apiGet(p) {
  return new Promise((resolve, reject) => {
    http.get(CONSOLE_URL + '/api/v1' + p, { headers: { authorization: 'Bearer ' + TOKEN } }, (res) => {
      let d = '';
      res.on('data', (c) => { d += c; });
      res.on('end', () => resolve(JSON.parse(d)));
    }).on('error', reject);
  });
}

const problems = [], foreign = [], requests = [];
let page = null;

async function main() {
  fs.mkdirSync(SHOT_DIR, { recursive: true });
  const browser = Browser.launch();
  page = await browser.newPage();
  const ownRequests = new Map();
  page.on((method, p) => {
    if (method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'warning' || p.type === 'assert'))
      problems.push(`console.${p.type}: ${p.args.map((a) => a.value || a.description).join(' ')}`);
    else if (method === 'Runtime.exceptionThrown')
      problems.push(`exception: ${p.exceptionDetails.text} ${(p.exceptionDetails.exception || {}).description || ''}`);
    else if (method === 'Log.entryAdded' && (p.entry.level === 'error' || p.entry.level === 'warning')
             && !(p.entry.source === 'network' && /\/login$/.test(p.entry.url || ''))) // the wrong token's 401
      problems.push(`log ${p.entry.source}: ${p.entry.text} ${p.entry.url || ''}`); // CSP violations land here
    else if (method === 'Network.requestWillBeSent') {
      const u = p.request.url;
      requests.push(u);
      ownRequests.set(p.requestId, u);
      if (!u.startsWith(ORIGIN + '/') && !u.startsWith('data:') && u !== 'about:blank') foreign.push(u);
    } else if (method === 'Network.loadingFailed' && !p.canceled)
      problems.push(`request failed: ${ownRequests.get(p.requestId)} ${p.errorText}`);
    else if (method === 'Network.responseReceived' && p.response.status >= 400 && !p.response.url.endsWith('/login'))
      problems.push(`HTTP ${p.response.status}: ${p.response.url}`);
  });
  for (const d of ['Page', 'Runtime', 'Network', 'Log']) await page.send(`${d}.enable`);
  await page.viewport(1280, 900, false);

  // --- sign in ---------------------------------------------------------------------------------
  await page.goto(CONSOLE_URL + '/');
  check(await page.eval('location.pathname') === '/login', 'an unsigned visit lands on /login');
  await page.screenshot(path.join(SHOT_DIR, 'console-login.png'));
  await page.eval(`window.__before = 1; document.getElementById('token').value = 'not-the-token'; document.querySelector('form').submit()`);
  await page.until(`window.__before === undefined && document.readyState === 'complete' && document.getElementById('failed')`, 'the sign-in answer');
  check(await page.eval(`!document.getElementById('failed').hidden`), 'a wrong token shows the failure on the page');
  await page.eval(`document.getElementById('token').value = ${JSON.stringify(TOKEN)}; document.querySelector('form').submit()`);
  await page.until(`location.pathname === '/' && document.readyState === 'complete'`, 'the console after sign-in');
  check(await page.eval(`fetch('/api/v1/events?limit=1').then((r) => r.status)`) === 200,
    'the right token signs in: the page at / reads the API with its cookie');
  check(await page.eval('document.cookie') === '', 'the session cookie is HttpOnly (not visible to scripts)');

  // --- every page --------------------------------------------------------------------------------
  const h1 = () => page.eval(`(document.querySelector('main h1') || {}).textContent || ''`);
  await page.until(`document.querySelector('main h1') && document.querySelector('main h1').textContent === 'Overview'`, 'the overview');
  check(await page.eval(`document.querySelectorAll('svg.chart').length`) === 4
    && await page.eval(`document.querySelectorAll('svg.chart rect').length`) > 0, 'overview: four SVG charts, with bars drawn');
  check(await page.eval(`document.querySelector('.cards').textContent.includes('dead letters')`), 'overview: queue and dead letter figures');
  await page.until(`document.getElementById('live').textContent === 'live'`, 'the live stream to connect');
  await page.screenshot(path.join(SHOT_DIR, 'console-overview.png'));

  await page.eval(`location.hash = '#/events'`);
  await page.until(`document.querySelectorAll('#events-body tr').length > 0`, 'the events table');
  check(await h1() === 'Events', 'events page');
  check(await page.eval(`document.querySelectorAll('#events-body tr[data-id="evt-twice"]').length`) === 2,
    'events page: one id stored at two endpoints shows as two events');
  await page.screenshot(path.join(SHOT_DIR, 'console-events.png'));

  // markup in stored fields: shown as text, nothing runs
  const xssRow = await page.eval(`(() => { const r = document.querySelector('#events-body tr[data-id="evt-xss"]'); return r ? r.textContent : ''; })()`);
  check(xssRow.includes('<img src=x onerror=window.__xss=1>'), 'a field holding <img onerror> shows literally in the table', xssRow);
  await page.eval(`location.hash = '#/event/evt-xss'`);
  await page.until(`document.querySelector('main dl.fields')`, 'the event page');
  const mainText = await page.eval(`document.querySelector('main').textContent`);
  check(mainText.includes('<img src=x onerror=window.__xss=1>'), 'event page: <img onerror> shown as text');
  check(mainText.includes('<script>window.__xss=2</script>'), 'event page: <script> shown as text');
  check(mainText.includes(`"'><svg onload=window.__xss=3>`), 'event page: attribute-breaking quotes shown as text');
  check(await page.eval(`document.querySelectorAll('main img, main script, main svg[onload], main iframe').length`) === 0, 'no element was made from stored data');
  check(await page.eval(`window.__xss === undefined`), 'no stored payload ran');
  check(await page.eval(`document.getElementById('body-pretty') !== null`), 'the body is pretty-printed');
  await page.screenshot(path.join(SHOT_DIR, 'console-event-xss.png'));

  await page.eval(`location.hash = '#/call/sess-xss'`);
  await page.until(`document.querySelectorAll('ol.timeline li').length >= 2`, 'the call timeline');
  check((await h1()).startsWith('Call'), 'call page: a timeline');
  const offsets = await page.eval(`[...document.querySelectorAll('ol.timeline .when')].map((e) => e.textContent)`);
  check(offsets.length === 3 && offsets[0].startsWith('+0.000 s') && /^\+0\.500 s \(0\.500 s after/.test(offsets[1])
    && /^\+2\.000 s \(1\.500 s after/.test(offsets[2]), 'call page: times relative to the first event and the one before', offsets);
  check(await page.eval(`document.querySelector('main').textContent.includes(\`"'><svg onload=window.__xss=3>\`)`), 'call page: quotes shown as text');
  await page.screenshot(path.join(SHOT_DIR, 'console-call.png'));

  await page.eval(`location.hash = '#/dead'`);
  await page.until(`document.querySelector('main h1') && document.querySelector('main h1').textContent === 'Dead letters' && document.querySelectorAll('main table').length >= 1`, 'the dead letters page');
  check(await page.eval(`document.querySelector('main').textContent.includes('Replay every dead delivery of fail')`), 'dead letters: grouped, with replay all per handler');
  await page.screenshot(path.join(SHOT_DIR, 'console-dead.png'));

  // --- Replay ------------------------------------------------------------------------------------
  const before = (await apiGet('/deliveries?event=' + encodeURIComponent(SIPREC_ID))).deliveries.length;
  await page.eval(`location.hash = '#/event/${SIPREC_ID}'`);
  await page.until(`document.querySelector('main h3')`, 'the siprec.failed event page');
  await page.screenshot(path.join(SHOT_DIR, 'console-event.png'));
  await page.eval(`[...document.querySelectorAll('main button')].find((b) => b.textContent === 'Replay').click()`);
  const note = await page.until(`(document.querySelector('main .notice') || {}).textContent`, 'the replay notice');
  check(note === 'Queued 2 deliveries.', 'Replay: the page says what it queued', note);
  const after = (await apiGet('/deliveries?event=' + encodeURIComponent(SIPREC_ID))).deliveries.length;
  check(after === before + 2, 'Replay: two new deliveries in the store', { before, after });

  // --- live: a new event without a reload ----------------------------------------------------------
  await page.eval(`location.hash = '#/events'`);
  await page.until(`document.querySelectorAll('#events-body tr').length > 0`, 'the events table again');
  await page.eval(`window.__sameDocument = true`);
  const status = await deliver(JSON.stringify({ data: { record_type: 'event', event_type: 'call.answered', id: 'evt-browser-live',
    occurred_at: new Date().toISOString(), payload: { call_session_id: 'sess-live', call_control_id: 'v3:live' } } }));
  check(status === 200, 'a new event is delivered while the page is open');
  await page.until(`document.querySelector('#events-body tr[data-id="evt-browser-live"]')`, 'the new event to appear', 10000);
  check(await page.eval(`window.__sameDocument === true && document.querySelector('#events-body tr').getAttribute('data-id') === 'evt-browser-live'`),
    'the new event appears at the top of the events page without a reload');

  // --- late answers (the Fetch domain holds a page's answer, already made, in the browser; in its
  // URL patterns * is any run of characters, ? any one character, \? a question mark) -------------
  const finished = new Set();
  page.on((method, p) => {
    if (method === 'Network.loadingFinished' || method === 'Network.loadingFailed') finished.add(p.requestId);
  });
  const holdAnswer = async (urlPattern, hash) => {
    await page.send('Fetch.enable', { patterns: [{ urlPattern, requestStage: 'Response' }] });
    const paused = page.waitFor('Fetch.requestPaused');
    await page.eval(`location.hash = ${JSON.stringify(hash)}`);
    const held = await paused;
    return async () => { // let it through; back when the page has had it
      await page.send('Fetch.continueResponse', { requestId: held.requestId });
      await page.send('Fetch.disable');
      for (let i = 0; i < 200 && !finished.has(held.networkId); i++) await new Promise((r) => setTimeout(r, 50));
      await page.eval(`new Promise((r) => setTimeout(r, 300))`);
    };
  };
  // The user leaves the overview before its answer comes: the page they went to stays.
  let release = await holdAnswer('*/api/v1/stats\\?*', '#/?range=day');
  await page.eval(`location.hash = '#/events'`);
  await page.until(`document.querySelectorAll('#events-body tr').length > 0`, 'the events page');
  await release();
  check(await h1() === 'Events' && await page.eval(`document.querySelectorAll('#events-body tr').length > 0`),
    'a late answer for a page left behind does not replace the page shown', await h1());
  // An event stored after the events page's answer was made, before it arrived: shown, once.
  release = await holdAnswer('*/api/v1/events\\?*', '#/events?parse=parsed');
  check(await deliver(JSON.stringify({ data: { record_type: 'event', event_type: 'call.answered', id: 'evt-browser-meanwhile',
    occurred_at: new Date().toISOString(), payload: { call_session_id: 'sess-live', call_control_id: 'v3:live' } } })) === 200,
    'an event is delivered while the events page waits for its answer');
  await page.until(`document.querySelector('#events-body tr[data-id="evt-browser-meanwhile"]')`, 'the event from the stream');
  await release();
  check(await page.eval(`document.querySelectorAll('#events-body tr[data-id="evt-browser-meanwhile"]').length === 1
    && document.querySelector('#events-body tr').getAttribute('data-id') === 'evt-browser-meanwhile'
    && document.querySelectorAll('#events-body tr[data-id="evt-browser-live"]').length === 1`),
    'an event stored while the answer was on its way is shown once, at the top, above the answer\'s rows');

  // --- keyboard ------------------------------------------------------------------------------------
  await page.send('Emulation.setFocusEmulationEnabled', { enabled: true });
  await page.eval(`location.hash = '#/'`);
  await page.reload(); // a fresh document: focus starts at its top
  await page.until(`document.querySelectorAll('svg.chart').length >= 3`, 'the overview again');
  await page.key('Tab', 'Tab', 9);
  check(await page.eval(`document.activeElement.textContent`) === 'Skip to content', 'Tab reaches the skip link first');
  await page.key('Tab', 'Tab', 9);
  await page.key('Tab', 'Tab', 9);
  check(await page.eval(`document.activeElement.getAttribute('href')`) === '#/events', 'Tab moves through the navigation');
  const enter = page.eval(`new Promise((r) => { window.addEventListener('hashchange', () => r(location.hash), { once: true }); setTimeout(() => r('no hashchange'), 3000); })`);
  await page.key('Enter', 'Enter', 13);
  check(await enter === '#/events', 'Enter follows a navigation link');

  // --- a phone -------------------------------------------------------------------------------------
  await page.viewport(390, 844, true);
  for (const [hash, name, ready] of [['#/', 'overview', `document.querySelectorAll('svg.chart').length >= 3`],
    ['#/events', 'events', `document.querySelectorAll('#events-body tr').length > 0`],
    ['#/event/' + SIPREC_ID, 'event', `document.querySelector('main h3')`]]) {
    await page.eval(`location.hash = '#/'; location.hash = ${JSON.stringify(hash)}`);
    await page.until(ready, `the ${name} page on a phone`);
    const overflow = await page.eval(`document.documentElement.scrollWidth - document.documentElement.clientWidth`);
    check(overflow <= 0, `phone: the ${name} page fits the screen's width`, { overflow });
    await page.screenshot(path.join(SHOT_DIR, `console-${name}-phone.png`));
  }

  // --- what the browser saw ------------------------------------------------------------------------
  check(problems.length === 0, 'no console error, exception, CSP violation or failed request', problems);
  check(foreign.length === 0, 'no request to another origin', foreign);
  check(requests.some((u) => u.endsWith('/api/v1/stream')), 'the page used the live stream');
  await browser.close();
  console.log(`browser: ${passed} passed, ${failed} failed (screenshots in ${SHOT_DIR})`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch(async (e) => {
  console.log(`not ok - ${e.stack}`);
  for (const p of problems) console.log(`#   ${p}`);
  if (page) {
    try {
      console.log(`#   the page: ${await page.eval('location.href')}: ${(await page.eval('document.body.innerText')).slice(0, 600)}`);
      await page.screenshot(path.join(SHOT_DIR, 'failure.png'));
    } catch (_) { /* the browser is gone */ }
  }
  process.exit(1);
});
