// cdp.js - Debian's headless Chromium driven over the DevTools protocol, with nothing from npm:
// --remote-debugging-pipe gives the protocol on file descriptors 3 (to the browser) and 4 (from
// it), each message JSON ended by a NUL byte (what puppeteer's pipe transport does).
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

class Browser {
  constructor(proc, profile) {
    this.proc = proc;
    this.profile = profile;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = [];
    this.buf = '';
    proc.stdio[4].on('data', (chunk) => this.onData(chunk));
    proc.on('exit', () => {
      for (const { reject } of this.pending.values()) reject(new Error('the browser exited'));
      this.pending.clear();
    });
  }

  static launch() {
    const exe = process.env.CHROMIUM || '/usr/bin/chromium';
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hookd-chromium-'));
    // The flags a closed network needs (no background connections, no QUIC, no component
    // updates), and --no-sandbox because CI runs as root.
    const args = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      '--remote-debugging-pipe', '--no-first-run', '--no-default-browser-check',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-quic', '--disable-extensions', '--disable-default-apps', '--mute-audio',
      '--user-data-dir=' + profile, 'about:blank'];
    const proc = spawn(exe, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    proc.stderr.on('data', () => {}); // Chromium's own chatter
    return new Browser(proc, profile);
  }

  onData(chunk) {
    this.buf += chunk.toString('utf8');
    let end;
    while ((end = this.buf.indexOf('\0')) >= 0) {
      const msg = JSON.parse(this.buf.slice(0, end));
      this.buf = this.buf.slice(end + 1);
      if (msg.id !== undefined && this.pending.has(msg.id)) {
        const { resolve, reject, method } = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
        else resolve(msg.result);
      } else if (msg.method) {
        for (const l of this.listeners) l(msg);
      }
    }
  }

  send(method, params = {}, sessionId) {
    const id = this.nextId++;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.proc.stdio[3].write(JSON.stringify(msg) + '\0');
    });
  }

  on(fn) {
    this.listeners.push(fn);
  }

  // A new tab, attached: returns a Page.
  async newPage() {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    return new Page(this, sessionId);
  }

  async close() {
    try { await this.send('Browser.close'); } catch (_) { /* already gone */ }
    await new Promise((r) => { if (this.proc.exitCode !== null) r(); else this.proc.on('exit', r); });
    fs.rmSync(this.profile, { recursive: true, force: true });
  }
}

class Page {
  constructor(browser, sessionId) {
    this.b = browser;
    this.sid = sessionId;
    this.waiters = [];
    browser.on((msg) => {
      if (msg.sessionId !== this.sid) return;
      for (const w of this.waiters.slice()) {
        if (w.method === msg.method) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(msg.params);
        }
      }
    });
  }

  send(method, params) {
    return this.b.send(method, params, this.sid);
  }

  // Every event of this tab, to fn(method, params).
  on(fn) {
    this.b.on((msg) => { if (msg.sessionId === this.sid) fn(msg.method, msg.params); });
  }

  waitFor(method, ms = 10000) {
    return new Promise((resolve, reject) => {
      const w = { method, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) { this.waiters.splice(i, 1); reject(new Error(`no ${method} within ${ms} ms`)); }
      }, ms);
    });
  }

  async goto(url) {
    const loaded = this.waitFor('Page.loadEventFired');
    await this.send('Page.navigate', { url });
    await loaded;
  }

  async reload() {
    const loaded = this.waitFor('Page.loadEventFired');
    await this.send('Page.reload', { ignoreCache: true });
    await loaded;
  }

  // The value of a JavaScript expression in the page (awaited when it is a promise).
  async eval(expression) {
    const r = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.text} ${JSON.stringify(r.exceptionDetails.exception || {})}`);
    return r.result.value;
  }

  // Poll until expression is truthy; returns its value.
  async until(expression, what, ms = 10000) {
    const end = Date.now() + ms;
    for (;;) {
      const v = await this.eval(expression);
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async key(key, code, keyCode, modifiers = 0) {
    await this.send('Input.dispatchKeyEvent', { type: 'keyDown', key, code, windowsVirtualKeyCode: keyCode, modifiers });
    await this.send('Input.dispatchKeyEvent', { type: 'keyUp', key, code, windowsVirtualKeyCode: keyCode, modifiers });
  }

  async screenshot(file) {
    const { data } = await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: false });
    fs.writeFileSync(file, Buffer.from(data, 'base64'));
  }

  async viewport(width, height, mobile) {
    await this.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: !!mobile });
  }
}

module.exports = { Browser };
