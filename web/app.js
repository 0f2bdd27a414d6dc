/*
 * hookd console: the pages, drawn from the JSON API under /api/v1 of the same origin.
 *
 * Safety rule: every value from the store reaches the page through textContent or an attribute
 * set by setAttribute on an element we made: never innerHTML, never a string of HTML. An
 * authentic sender is still only semi-trusted: its fields are data, not markup. Links are built
 * from "#/..." plus encodeURIComponent.
 * Routes (the hash): #/ overview, #/events?filters, #/event/ID, #/call/ID, #/dead.
 */
'use strict';

const API = '/api/v1';

/* ---- small helpers --------------------------------------------------------------------------- */

/* An element: h('a', {href: '#/'}, 'text', child, ...). Strings become text nodes. */
function h(tag, attrs, ...children) {
  const el = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
  return el;
}

function text(v) {
  return v === null || v === undefined ? '' : String(v);
}

function link(route, label) {
  return h('a', {href: route}, label);
}

// seq, when the row has it, lets the store fetch the event by its key (see api.c read_event).
function eventQuery(endpoint, seq) {
  const q = new URLSearchParams();
  if (endpoint) q.set('endpoint', endpoint);
  if (seq !== undefined && seq !== null) q.set('seq', String(seq));
  return q.toString() ? '?' + q : '';
}

function eventLink(id, endpoint, seq) {
  return link('#/event/' + encodeURIComponent(id) + eventQuery(endpoint, seq), h('code', {}, text(id)));
}

function callLink(id) {
  return id ? link('#/call/' + encodeURIComponent(id), h('code', {}, text(id))) : '';
}

function badge(state) {
  return state ? h('span', {class: 'state state-' + String(state).replace(/[^a-z_]/g, '')}, text(state)) : '';
}

function table(headers, rows, opts) {
  const thead = h('thead', {}, h('tr', {}, headers.map((x) =>
    h('th', {scope: 'col', class: (opts && opts.num && opts.num.includes(x)) ? 'num' : null}, x))));
  const tbody = h('tbody', {}, rows);
  return h('div', {class: 'scroll'}, h('table', {}, thead, tbody));
}

function cell(v, cls) {
  return h('td', {class: cls || null}, v);
}

function showError(msg) {
  const e = document.getElementById('error');
  e.textContent = msg || '';
  e.hidden = !msg;
}

async function api(path, opts) {
  const res = await fetch(API + path, Object.assign({credentials: 'same-origin'}, opts || {}));
  if (res.status === 401) {
    window.location.assign('/login');
    throw new Error('signed out');
  }
  let body = null;
  try { body = await res.json(); } catch (_) { body = null; }
  if (!res.ok) {
    const why = body && body.message ? body.message : res.statusText;
    const err = new Error(why);
    err.status = res.status;
    throw err;
  }
  return body;
}

function post(path, obj) {
  return api(path, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(obj)});
}

function params() {
  const hash = window.location.hash || '#/';
  const q = hash.indexOf('?');
  return new URLSearchParams(q >= 0 ? hash.slice(q + 1) : '');
}

function setMain(...nodes) {
  const main = document.getElementById('main');
  main.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false));
}

let renders = 0;        /* render() calls so far: only the newest may change the page */
let liveHandler = null; /* the page's listener for new events, or null */

/* What one render() may do to the page. A page waits for the API; when the user moves on
 * meanwhile (or the hash changes twice), a newer render() starts, and the older one's answer,
 * however late it comes, must not replace the newer page. */
function viewFor(gen) {
  const current = () => gen === renders;
  return {
    current,
    show: (...nodes) => { if (current()) setMain(...nodes); },
    live: (fn) => { if (current()) liveHandler = fn; },
  };
}

function shortTime(iso) {
  return iso ? String(iso).replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '';
}

/* ---- charts (SVG, drawn here; numbers also in a table for reading without colour) ------------ */

const W = 420, H = 150, PAD = 28;

/* Outcomes keep their colour whatever else is drawn: red never means "succeeded". */
const FIXED = {succeeded: 2, failed: 1, timeout: 7, gone: 5, invalid: 4, lease_expired: 3};
function colour(name, i) {
  return 's' + (FIXED[name] !== undefined ? FIXED[name] : i % 8);
}

function legend(names) {
  return h('ul', {class: 'legend'}, names.map((n, i) =>
    h('li', {}, h('span', {class: 'sw ' + colour(n, i), 'aria-hidden': 'true'}), text(n))));
}

function dataTable(names, buckets) {
  const rows = buckets.filter((b) => names.some((n) => b.counts[n])).map((b) =>
    h('tr', {}, cell(shortTime(b.t)), names.map((n) => cell(text(b.counts[n] || 0), 'num'))));
  return h('details', {}, h('summary', {}, 'Numbers'),
    rows.length ? table(['time'].concat(names), rows, {num: names}) : h('p', {class: 'muted'}, 'none'));
}

/* Stacked bars: series.names, series.buckets[{t, counts}] */
function stackedBars(title, series) {
  const names = series.names, buckets = series.buckets;
  const max = Math.max(1, ...buckets.map((b) => names.reduce((s, n) => s + (b.counts[n] || 0), 0)));
  const bw = (W - PAD) / Math.max(1, buckets.length);
  const svg = h('svg:svg', {class: 'chart', viewBox: `0 0 ${W} ${H + 16}`, role: 'img', 'aria-label': title});
  svg.appendChild(h('svg:line', {class: 'axis', x1: PAD, y1: H, x2: W, y2: H}));
  svg.appendChild(h('svg:text', {x: 0, y: 10}, String(max)));
  svg.appendChild(h('svg:text', {x: 0, y: H}, '0'));
  buckets.forEach((b, i) => {
    let y = H;
    names.forEach((n, k) => {
      const v = b.counts[n] || 0;
      if (!v) return;
      const hh = (v / max) * (H - 12);
      y -= hh;
      svg.appendChild(h('svg:rect', {class: colour(n, k), x: (PAD + i * bw).toFixed(1), y: y.toFixed(1),
        width: Math.max(1, bw - 1).toFixed(1), height: hh.toFixed(1)},
        h('svg:title', {}, `${shortTime(b.t)} ${n}: ${v}`)));
    });
  });
  if (buckets.length) {
    svg.appendChild(h('svg:text', {x: PAD, y: H + 14}, shortTime(buckets[0].t).slice(11, 16)));
    svg.appendChild(h('svg:text', {x: W - 30, y: H + 14}, shortTime(buckets[buckets.length - 1].t).slice(11, 16)));
  }
  return h('figure', {}, h('figcaption', {}, title), svg,
    names.length ? legend(names) : h('p', {class: 'muted'}, 'Nothing in this period.'),
    dataTable(names, buckets));
}

/* Horizontal bars: [{label, value}] */
function hbars(title, items) {
  const max = Math.max(1, ...items.map((x) => x.value));
  const rowH = 20, hh = Math.max(rowH, items.length * rowH);
  const svg = h('svg:svg', {class: 'chart', viewBox: `0 0 ${W} ${hh}`, role: 'img', 'aria-label': title});
  items.forEach((x, i) => {
    const w = (x.value / max) * (W - 200);
    svg.appendChild(h('svg:text', {x: 0, y: i * rowH + 14}, x.label.length > 22 ? x.label.slice(0, 21) + '\u2026' : x.label));
    svg.appendChild(h('svg:rect', {class: 's1', x: 150, y: i * rowH + 4, width: Math.max(1, w).toFixed(1), height: rowH - 8},
      h('svg:title', {}, `${x.label}: ${x.value}`)));
    svg.appendChild(h('svg:text', {x: 156 + w, y: i * rowH + 14}, String(x.value)));
  });
  return h('figure', {}, h('figcaption', {}, title),
    items.length ? svg : h('p', {class: 'muted'}, 'None in this period.'),
    h('details', {}, h('summary', {}, 'Numbers'),
      table(['cause', 'events'], items.map((x) => h('tr', {}, cell(x.label), cell(String(x.value), 'num'))), {num: ['events']})));
}

/* Lines: points [{t, owed, dead}] */
function lines(title, points) {
  const keys = ['owed', 'dead'];
  const max = Math.max(1, ...points.map((p) => Math.max(p.owed, p.dead)));
  const svg = h('svg:svg', {class: 'chart', viewBox: `0 0 ${W} ${H + 16}`, role: 'img', 'aria-label': title});
  svg.appendChild(h('svg:line', {class: 'axis', x1: PAD, y1: H, x2: W, y2: H}));
  svg.appendChild(h('svg:text', {x: 0, y: 10}, String(max)));
  svg.appendChild(h('svg:text', {x: 0, y: H}, '0'));
  const step = (W - PAD) / Math.max(1, points.length - 1);
  keys.forEach((k, i) => {
    const d = points.map((p, j) => `${j ? 'L' : 'M'}${(PAD + j * step).toFixed(1)},${(H - (p[k] / max) * (H - 12)).toFixed(1)}`).join(' ');
    if (points.length) svg.appendChild(h('svg:path', {class: 'line s' + (i ? 1 : 0) + (i ? ' dash' : ''), d}));
  });
  return h('figure', {}, h('figcaption', {}, title),
    points.length ? svg : h('p', {class: 'muted'}, 'No samples yet (taken every 10 s since hookd started).'),
    legend(['queue depth (solid)', 'dead letters (dashed)']),
    h('details', {}, h('summary', {}, 'Numbers'),
      table(['time', 'owed', 'dead'], points.map((p) => h('tr', {}, cell(shortTime(p.t)), cell(String(p.owed), 'num'), cell(String(p.dead), 'num'))), {num: ['owed', 'dead']})));
}

/* ---- pages ----------------------------------------------------------------------------------- */

async function overview(view) {
  const range = params().get('range') === 'day' ? 'day' : 'hour';
  const s = await api(range === 'day' ? '/stats?since=24h&bucket=1800' : '/stats?since=1h&bucket=60');
  const perType = s.events.names.length;
  const cards = h('div', {class: 'cards'},
    [['events', s.events_total], ['event types', perType], ['queue depth', s.queue.owed],
     ['oldest owed (s)', s.queue.oldest_owed_s], ['dead letters', s.queue.dead]].map(([k, v]) =>
      h('div', {class: 'card'}, h('div', {class: 'v'}, String(v)), h('div', {class: 'k'}, k))));
  const pick = h('div', {class: 'actions'}, 'Period:',
    link('#/?range=hour', range === 'hour' ? h('strong', {}, 'last hour') : 'last hour'),
    link('#/?range=day', range === 'day' ? h('strong', {}, 'last day') : 'last day'));
  const per = range === 'day' ? 'half hour' : 'minute';
  view.show(h('h1', {}, 'Overview'), pick, cards,
    h('div', {class: 'charts'},
      stackedBars(`Events per ${per} by type`, s.events),
      hbars('siprec.failed by failure cause', s.failure_causes.map((c) => ({label: text(c.failure_cause), value: c.events}))),
      stackedBars(`Delivery attempts per ${per} by outcome`, s.outcomes),
      lines('Queue depth and dead letters', s.queue_series)),
    h('h2', {}, 'Dead letters by handler and cause'),
    s.dead_letters.length
      ? table(['handler', 'cause', 'deliveries', 'first', 'last'], s.dead_letters.map((d) => h('tr', {},
          cell(text(d.handler)), cell(badge(d.cause)), cell(String(d.deliveries), 'num'), cell(shortTime(d.first_at)), cell(shortTime(d.last_at)))), {num: ['deliveries']})
      : h('p', {class: 'muted'}, 'None.'),
    h('p', {}, link('#/dead', 'All dead letters')));
}

const FILTERS = ['type', 'endpoint', 'call', 'since', 'until', 'parse'];

function eventRow(e, fresh) {
  return h('tr', {class: fresh ? 'new' : null, 'data-id': text(e.id), 'data-endpoint': text(e.endpoint)},
    cell(shortTime(e.received_at)),
    cell(text(e.event_type || '(unparsed)')),
    cell(eventLink(e.id, e.endpoint, e.seq), 'id'),
    cell(callLink(e.call_session_id || e.call_control_id), 'hide-narrow'),
    cell(text(e.failure_cause || e.hangup_cause || ''), 'hide-narrow'),
    cell(text(e.endpoint), 'hide-narrow'),
    cell(e.attempts === undefined ? '1' : String(e.attempts), 'num'),
    cell(e.parse === 'unparsed' ? badge('unparsed') : 'parsed', 'hide-narrow'));
}

/* Does a live event pass the page's filters? (times: only "until" unset shows new ones) */
function matches(e, p) {
  if (p.get('until')) return false;
  if (p.get('type') && e.event_type !== p.get('type')) return false;
  if (p.get('endpoint') && e.endpoint !== p.get('endpoint')) return false;
  if (p.get('parse') && e.parse !== p.get('parse')) return false;
  const call = p.get('call');
  if (call && e.call_session_id !== call && e.call_control_id !== call) return false;
  return true;
}

async function events(view) {
  const p = params();
  const q = new URLSearchParams();
  for (const k of FILTERS) if (p.get(k)) q.set(k, p.get(k));
  const form = h('form', {class: 'filters', role: 'search'},
    FILTERS.map((k) => k === 'parse'
      ? h('label', {}, 'parse', h('select', {name: k},
          ['', 'parsed', 'unparsed'].map((v) => h('option', {value: v, selected: (p.get(k) || '') === v}, v || 'any'))))
      : h('label', {}, k + (k === 'since' || k === 'until' ? ' (1h, ISO time)' : ''),
          h('input', {name: k, value: p.get(k) || '', size: k === 'type' ? 16 : 12, autocomplete: 'off'}))),
    h('button', {type: 'submit', class: 'primary'}, 'Filter'),
    h('button', {type: 'button', on: {click: () => { window.location.hash = '#/events'; }}}, 'Clear'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const n = new URLSearchParams();
    for (const k of FILTERS) {
      const v = form.elements[k].value.trim();
      if (v) n.set(k, v);
    }
    window.location.hash = '#/events' + (n.toString() ? '?' + n : '');
  });
  const tbody = h('tbody', {id: 'events-body'});
  const more = h('button', {type: 'button', hidden: true}, 'Older events');
  const status = h('p', {class: 'muted', role: 'status'}, '');
  view.show(h('h1', {}, 'Events'), form, status,
    h('div', {class: 'scroll'}, h('table', {id: 'events-table'},
      h('thead', {}, h('tr', {}, ['received', 'type', 'id', 'call', 'cause', 'endpoint', 'copies', 'parse'].map((x) =>
        h('th', {scope: 'col', class: (x === 'call' || x === 'endpoint' || x === 'parse' || x === 'cause') ? 'hide-narrow' : (x === 'copies' ? 'num' : null)}, x)))),
      tbody)),
    h('div', {class: 'actions'}, more));
  /* An event is its id at its endpoint: the same id at another endpoint is another event. */
  const shown = (e) => tbody.querySelector(`tr[data-id="${CSS.escape(text(e.id))}"][data-endpoint="${CSS.escape(text(e.endpoint))}"]`) !== null;
  const count = () => {
    status.textContent = tbody.children.length ? `${tbody.children.length} shown, newest first; new events appear as they arrive.` : 'No events match.';
  };
  /* Listen before the first page is asked for: an event stored while that answer is on its way
   * comes by the stream, and must not be missed (nor shown twice when the answer has it too). */
  view.live((e) => {
    if (!matches(e, p) || shown(e)) return;
    tbody.insertBefore(eventRow(e, true), tbody.firstChild);
    count();
  });
  let next = null;
  async function page() {
    const qq = new URLSearchParams(q);
    if (next) qq.set('before', next);
    const r = await api('/events?' + qq);
    for (const e of r.events) if (!shown(e)) tbody.appendChild(eventRow(e, false));
    next = r.next;
    more.hidden = !next;
    count();
  }
  more.addEventListener('click', () => page().catch((e) => showError(e.message)));
  await page();
}

function replayButton(body, label) {
  const note = h('span', {class: 'notice', role: 'status'});
  const b = h('button', {type: 'button', class: 'primary'}, label || 'Replay');
  b.addEventListener('click', async () => {
    b.disabled = true;
    note.textContent = '';
    try {
      const r = await post('/replay', body);
      note.textContent = `Queued ${r.queued} ${r.queued === 1 ? 'delivery' : 'deliveries'}.`;
    } catch (e) {
      showError('Replay failed: ' + e.message);
    } finally {
      b.disabled = false;
    }
  });
  return h('span', {class: 'actions'}, b, note);
}

function pretty(body) {
  try { return JSON.stringify(JSON.parse(body), null, 2); } catch (_) { return null; }
}

function attemptsTable(list) {
  if (!list || !list.length) return h('p', {class: 'muted'}, 'No attempt yet.');
  return table(['#', 'started', 'ms', 'outcome', 'HTTP', 'exit', 'error', 'output'], list.map((a) => h('tr', {},
    cell(String(a.attempt), 'num'), cell(shortTime(a.started_at)), cell(text(a.ms), 'num'), cell(badge(a.outcome)),
    cell(text(a.http_status)), cell(text(a.exit_code)), cell(text(a.error)),
    cell(a.output ? h('pre', {}, text(a.output)) : ''))), {num: ['#', 'ms']});
}

async function eventPage(view, id) {
  const p = params();
  const q = eventQuery(p.get('endpoint'), p.get('seq'));
  const e = await api('/events/' + encodeURIComponent(id) + q);
  const shown = ['id', 'endpoint', 'scheme', 'event_type', 'occurred_at', 'received_at', 'call_control_id',
    'call_session_id', 'call_leg_id', 'connection_id', 'failure_cause', 'hangup_cause', 'attempts',
    'meta_attempt', 'delivered_to', 'remote_addr', 'content_type', 'parse', 'parse_error', 'body_bytes'];
  const fields = h('dl', {class: 'fields'}, shown.filter((k) => e[k] !== null && e[k] !== undefined).map((k) => [
    h('dt', {}, k),
    h('dd', {}, (k === 'call_session_id' || k === 'call_control_id') ? callLink(e[k]) : text(e[k]))]));
  const raw = e.body !== undefined ? e.body : null;
  const nice = raw !== null ? pretty(raw) : null;
  const rawHref = API + '/events/' + encodeURIComponent(id) + '/raw' + q;
  const call = e.call_session_id || e.call_control_id;
  view.show(h('h1', {}, text(e.event_type || 'Unparsed event')),
    h('div', {class: 'actions'}, replayButton({event: e.id}, 'Replay'),
      call ? link('#/call/' + encodeURIComponent(call), 'Call timeline') : null,
      h('a', {href: rawHref}, 'Raw bytes')),
    e.also_at_endpoints ? h('p', {class: 'muted'}, 'Also stored at: ' + e.also_at_endpoints.join(', ')) : null,
    fields,
    h('h2', {}, 'Body'),
    nice !== null ? h('pre', {id: 'body-pretty'}, nice) : null,
    h('details', {open: nice === null}, h('summary', {}, 'Raw'),
      h('pre', {id: 'body-raw'}, raw !== null ? raw : '(not UTF-8; base64) ' + text(e.body_base64))),
    h('h2', {}, 'Deliveries'),
    e.deliveries.length ? e.deliveries.map((d) => h('section', {},
      h('h3', {}, text(d.handler), ' ', badge(d.state), ' ', h('span', {class: 'muted'}, `${d.attempts.length} attempt(s)`)),
      d.next_attempt_at ? h('p', {class: 'muted'}, 'next attempt ' + shortTime(d.next_attempt_at)) : null,
      attemptsTable(d.attempts),
      d.state === 'dead' ? replayButton({event: e.id, handler: d.handler}, 'Replay for ' + text(d.handler)) : null))
      : h('p', {class: 'muted'}, 'No handler owes this event.'));
}

async function callPage(view, id) {
  const c = await api('/calls/' + encodeURIComponent(id));
  const items = c.events.map((e) => h('li', {},
    h('div', {class: 'when'}, `+${(e.t_ms / 1000).toFixed(3)} s`, e.gap_ms ? ` (${(e.gap_ms / 1000).toFixed(3)} s after the previous)` : '', ' \u00b7 ', shortTime(e.occurred_at || e.received_at)),
    h('div', {}, h('strong', {}, text(e.event_type || '(unparsed)')), ' ', eventLink(e.id, e.endpoint, e.seq),
      e.failure_cause || e.hangup_cause ? ' \u2014 ' + text(e.failure_cause || e.hangup_cause) : '',
      e.call_leg_id ? h('span', {class: 'muted'}, ' leg ', h('code', {}, text(e.call_leg_id))) : '')));
  view.show(h('h1', {}, 'Call ', h('code', {}, text(c.call))),
    h('p', {class: 'muted'}, `${c.events.length} events over ${((c.events[c.events.length - 1].t_ms) / 1000).toFixed(3)} s`),
    h('ol', {class: 'timeline'}, items),
    h('h2', {}, 'Deliveries'),
    c.deliveries.length
      ? table(['handler', 'state', 'attempts', 'event', 'type', 'queued', 'last outcome'], c.deliveries.map((d) => h('tr', {},
          cell(text(d.handler)), cell(badge(d.state)), cell(String(d.attempts), 'num'), cell(eventLink(d.event_id)),
          cell(text(d.event_type)), cell(shortTime(d.queued_at)), cell(badge(d.last_outcome))), {num: ['attempts']}))
      : h('p', {class: 'muted'}, 'No deliveries.'));
}

async function deadPage(view) {
  const [s, d] = await Promise.all([api('/stats?since=1h&bucket=3600'), api('/deliveries?state=dead&limit=200')]);
  const handlers = [...new Set(s.dead_letters.map((g) => g.handler))];
  view.show(h('h1', {}, 'Dead letters'),
    s.dead_letters.length ? table(['handler', 'cause', 'deliveries', 'first', 'last'], s.dead_letters.map((g) => h('tr', {},
      cell(text(g.handler)), cell(badge(g.cause)), cell(String(g.deliveries), 'num'), cell(shortTime(g.first_at)), cell(shortTime(g.last_at)))), {num: ['deliveries']})
      : h('p', {class: 'muted'}, 'No dead letters.'),
    h('div', {class: 'actions'}, handlers.map((hd) => replayButton({state: 'dead', handler: hd}, 'Replay every dead delivery of ' + hd))),
    h('h2', {}, 'The latest 200'),
    d.deliveries.length ? table(['handler', 'event', 'type', 'attempts', 'queued', 'last outcome', ''], d.deliveries.map((x) => h('tr', {},
      cell(text(x.handler)), cell(eventLink(x.event_id)), cell(text(x.event_type)), cell(String(x.attempts), 'num'),
      cell(shortTime(x.queued_at)), cell(badge(x.last_outcome)), cell(replayButton({event: x.event_id, handler: x.handler}, 'Replay')))), {num: ['attempts']})
      : h('p', {class: 'muted'}, 'None.'));
}

/* ---- the router and the live stream ------------------------------------------------------------ */

async function render() {
  const view = viewFor(++renders);
  liveHandler = null;
  showError('');
  const hash = window.location.hash || '#/';
  const path = hash.slice(1).split('?')[0];
  const section = path.startsWith('/event') ? 'events' : path.startsWith('/dead') ? 'dead' : path.startsWith('/call') ? 'events' : 'overview';
  for (const a of document.querySelectorAll('nav a')) {
    if (a.getAttribute('data-nav') === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  try {
    if (path === '/' || path === '') await overview(view);
    else if (path === '/events') await events(view);
    else if (path.startsWith('/event/')) await eventPage(view, decodeURIComponent(path.slice(7)));
    else if (path.startsWith('/call/')) await callPage(view, decodeURIComponent(path.slice(6)));
    else if (path === '/dead') await deadPage(view);
    else view.show(h('h1', {}, 'Not found'), h('p', {}, link('#/', 'Overview')));
    if (view.current()) document.title = (document.querySelector('main h1') || {}).textContent + ' - hookd console';
  } catch (e) {
    if (e.message !== 'signed out') {
      view.show(h('h1', {}, e.status === 404 ? 'Not found' : 'Could not load'), h('p', {}, text(e.message)));
    }
  }
}

function stream() {
  const live = document.getElementById('live');
  const es = new EventSource(API + '/stream');
  es.addEventListener('open', () => { live.textContent = 'live'; live.classList.add('on'); });
  es.addEventListener('error', () => { live.textContent = 'reconnecting'; live.classList.remove('on'); });
  es.addEventListener('event', (m) => {
    let e;
    try { e = JSON.parse(m.data); } catch (_) { return; }
    if (liveHandler) liveHandler(e);
  });
}

window.addEventListener('hashchange', () => { render(); document.getElementById('main').focus(); });
document.addEventListener('DOMContentLoaded', () => { render(); stream(); });
