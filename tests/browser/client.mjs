// client.mjs -- run contrib/js/zsse.js in headless Chromium against a real
// server and print what the page sees, one JSON line each:
//   {"k":"event","type":..,"data":..,"id":..}  {"k":"open"}  {"k":"error","status":..}
//   {"k":"fallback"}  {"k":"reconnect","reason":..,"delay":..}  {"k":"close","status":..}
//   {"k":"token","expired":..}  (with --token-cmd: each fresh token minted)
//   {"k":"request","t":ms,"lastEventId":..,"exp":..}  {"k":"response","t":ms,"status":..}
//                               (with --log-requests: each request to URL's
//                               origin as the browser sent it, and its answer;
//                               exp: the bearer token's, t: wall-clock ms)
//
//   node client.mjs URL --token JWT [--listen a,b] [--count N] [--timeout S]
//                       [--base-delay MS] [--max-delay MS] [--poll-wait S]
//                       [--min-interval MS] [--token-cmd 'zsse token --sub u1 --ttl 3']
//                       [--log-requests 1]
//
// --token-cmd: the page's token() keeps its token until zsse.js says it
// expired (token({expired: true}), after the route's auth_expired event),
// then gets a fresh one by running the command (its stdout, trimmed).
//
// The page and zsse.js are served on URL's origin by playwright (never by
// the server under test), so fetch() is same-origin.
import { launch } from './launch.mjs';
import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const lib = readFileSync(path.join(here, '../../contrib/js/zsse.js'), 'utf8');
const args = process.argv.slice(2);
const url = args.shift();
const o = { listen: [], count: 1e9, timeout: 30, token: '', baseDelay: 1000, maxDelay: 30000,
  pollWait: 25, minInterval: 1000, tokenCmd: null, logRequests: false };
while (args.length) {
  const a = args.shift();
  const v = args.shift();
  if (a === '--listen') o.listen = v.split(',').filter(Boolean);
  else if (a === '--count') o.count = Number(v);
  else if (a === '--timeout') o.timeout = Number(v);
  else if (a === '--token') o.token = v;
  else if (a === '--base-delay') o.baseDelay = Number(v);
  else if (a === '--max-delay') o.maxDelay = Number(v);
  else if (a === '--poll-wait') o.pollWait = Number(v);
  else if (a === '--min-interval') o.minInterval = Number(v);
  else if (a === '--token-cmd') o.tokenCmd = v;
  else if (a === '--log-requests') o.logRequests = v === '1';
  else { console.error(`client.mjs: unknown argument ${a}`); process.exit(2); }
}
const origin = new URL(url).origin;
const browser = await launch();
let done;
const finished = new Promise((r) => { done = r; });
const timer = setTimeout(() => done(), o.timeout * 1000);
try {
  const page = await browser.newPage();
  await page.route(origin + '/__zsse_test__/**', (route) => {
    const u = new URL(route.request().url());
    if (u.pathname.endsWith('zsse.js'))
      return route.fulfill({ contentType: 'text/javascript', body: lib });
    return route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>client</title>' });
  });
  if (o.logRequests) {
    const ours = (u) => u.startsWith(origin + '/') && !u.startsWith(origin + '/__zsse_test__/');
    page.on('request', (r) => {
      if (!ours(r.url())) return;
      const h = r.headers(), tok = (h.authorization || '').replace(/^Bearer /, '');
      let exp = null;
      try { exp = JSON.parse(Buffer.from(tok.split('.')[1], 'base64url')).exp; } catch {}
      console.log(JSON.stringify({ k: 'request', t: Date.now(),
        lastEventId: h['last-event-id'] ?? null, exp }));
    });
    page.on('response', (r) => {
      if (ours(r.url())) console.log(JSON.stringify({ k: 'response', t: Date.now(), status: r.status() }));
    });
  }
  let n = 0;
  await page.exposeFunction('report', (line) => {
    console.log(line);
    if (JSON.parse(line).k === 'event' && ++n >= o.count) done();
  });
  if (o.tokenCmd)
    await page.exposeFunction('freshToken', () => execSync(o.tokenCmd, { encoding: 'utf8' }).trim());
  await page.goto(origin + '/__zsse_test__/index.html');
  await page.evaluate(async (o) => {
    const { ZsseClient } = await import('/__zsse_test__/zsse.js');
    let tok = o.token;
    const token = !o.tokenCmd ? () => tok : async (info) => {
      if (!tok || (info && info.expired)) {
        window.report(JSON.stringify({ k: 'token', expired: !!(info && info.expired) }));
        tok = await window.freshToken();
      }
      return tok;
    };
    const c = new ZsseClient(o.url, { token, baseDelay: o.baseDelay,
      maxDelay: o.maxDelay, pollWait: o.pollWait, minInterval: o.minInterval });
    const ev = (e) => window.report(JSON.stringify({ k: 'event', type: e.type, data: e.data, id: e.lastEventId }));
    c.on('message', ev);
    for (const t of o.listen) c.on(t, ev);
    c.on('open', () => window.report(JSON.stringify({ k: 'open' })));
    c.on('error', (e) => window.report(JSON.stringify({ k: 'error', status: e.status })));
    c.on('fallback', () => window.report(JSON.stringify({ k: 'fallback' })));
    c.on('reconnect', (e) => window.report(JSON.stringify({ k: 'reconnect', reason: e.reason, delay: e.delay })));
    c.on('close', (e) => window.report(JSON.stringify({ k: 'close', status: e.status })));
    c.on('poll', (e) => window.report(JSON.stringify({ k: 'poll', events: e.events })));
    window.__c = c;
  }, { ...o, url });
  await finished;
} finally {
  clearTimeout(timer);
  await browser.close();
}
