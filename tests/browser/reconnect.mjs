// reconnect.mjs -- contrib/js/zsse.js's reconnect paths in headless Chromium
// against a small test server of this script (node http, 127.0.0.1, random
// port) that serves the page, zsse.js and the streams.
//
//   node reconnect.mjs rate      retry: 0 then a failing server, and servers
//                                that end every stream at once: attempts stay
//                                at least minInterval (1 s) apart
//   node reconnect.mjs expiry [N]
//                                N (50) consecutive token expiries under a
//                                steady event flow: the server sends
//                                `event: auth_expired` at the token's exp and
//                                ends the stream (as zsse-fcgi does); zsse.js
//                                asks token({expired: true}) for a fresh one
//                                and reconnects at once with Last-Event-ID;
//                                nothing lost, nothing repeated
//
// Prints "ok - ..." / "not ok - ..." and figures ("# ..."); exits 1 on a
// failed check.
import { launch } from './launch.mjs';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const lib = readFileSync(process.env.ZSSE_JS || path.join(here, '../../contrib/js/zsse.js'), 'utf8');
const mode = process.argv[2];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let failed = 0;
function ok(name, cond, detail = '') {
  if (!cond) failed++;
  console.log(`${cond ? 'ok' : 'not ok'} - ${name}${cond || !detail ? '' : ': ' + detail}`);
}
async function until(what, fn, ms) {     // poll fn() every 50 ms, bounded
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > ms) { console.log(`# timed out waiting for ${what}`); return false; }
    await sleep(50);
  }
  return true;
}

let route = () => false;                 // (req, res) => handled
const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  if (u.pathname === '/index.html') return res.end('<!doctype html><title>reconnect</title>');
  if (u.pathname === '/zsse.js') {
    res.setHeader('Content-Type', 'text/javascript');
    return res.end(lib);
  }
  req.socket.setNoDelay(true);
  if (!route(req, res, u)) { res.statusCode = 404; res.end(); }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${server.address().port}`;
const sse = (res) => {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
  res.flushHeaders();
};

const browser = await launch();
const page = await browser.newPage();
await page.goto(origin + '/index.html');
try {
  if (mode === 'rate') { await rate(); await pollId(); }
  else if (mode === 'expiry') await expiry(Number(process.argv[3] || 50));
  else { console.error('usage: node reconnect.mjs rate|expiry [N]'); process.exitCode = 2; }
} finally {
  await browser.close();
  server.closeAllConnections();
  server.close();
}
if (failed) process.exitCode = 1;

// --- rate: no hot loop, whatever the server does ---------------------------
async function rate() {
  const WINDOW = 3000;
  const scenarios = {
    // the first stream says retry: 0, every later request fails
    retry0_failing: (n, res) => {
      if (n > 1) { res.statusCode = 500; return res.end('down'); }
      sse(res); res.end('retry: 0\ndata: a\n\n');
    },
    retry0_503: (n, res) => {
      if (n > 1) { res.statusCode = 503; return res.end('down'); }
      sse(res); res.end('retry: 0\ndata: a\n\n');
    },
    // every stream ends at once, with an event or with nothing
    ends_with_event: (n, res) => { sse(res); res.end(`retry: 0\nid: ${n}\ndata: hello\n\n`); },
    ends_empty: (n, res) => { sse(res); res.end(); },
    ends_comment: (n, res) => { sse(res); res.end(':hi\n\n'); },
    // the token expires at once, every time
    expires_at_once: (n, res) => { sse(res); res.end('event: auth_expired\ndata: {}\n\n'); },
    // network errors: the connection is cut in the middle of a stream
    // (cut before an answer, Chromium itself retries a GET once)
    cut: (n, res) => { sse(res); res.write('data: partial'); setTimeout(() => res.socket.destroy(), 20); },
  };
  for (const [name, serve] of Object.entries(scenarios)) {
    const times = [];
    route = (req, res, u) => {
      if (u.pathname !== `/rate/${name}`) return false;
      times.push(Date.now());
      serve(times.length, res);
      return true;
    };
    await page.evaluate(async (url) => {
      const { ZsseClient } = await import('/zsse.js');
      window.__c = new ZsseClient(url, { token: () => 't' });
    }, `/rate/${name}`);
    await until('the first request', () => times.length > 0, 10000);
    await sleep(WINDOW);
    await page.evaluate(() => window.__c.close());
    const n = times.filter((t) => t - times[0] <= WINDOW).length;
    console.log(`# ${name}: ${n} requests in ${WINDOW / 1000} s`);
    // attempts at least 1 s apart: at most one per second after the first
    ok(`${name}: reconnects bounded (${n} requests in ${WINDOW / 1000} s, at most ${WINDOW / 1000 + 1})`,
      n <= WINDOW / 1000 + 1);
    let minGap = Infinity;
    for (let i = 1; i < times.length; i++) minGap = Math.min(minGap, times[i] - times[i - 1]);
    if (times.length > 1)
      ok(`${name}: attempts spaced out (closest ${minGap} ms apart, client bound 1000)`, minGap >= 700);
  }
}

// --- the resume point in poll mode: an id above U+00FF goes as UTF-8 ----
async function pollId() {
  const seen = [];                    // [mode, Last-Event-ID hex, lastEventId query]
  route = (req, res, u) => {
    if (u.pathname !== '/pollid') return false;
    const lei = req.headers['last-event-id'];
    const poll = u.searchParams.get('mode') === 'poll';
    seen.push([poll ? 'poll' : 'stream', lei === undefined ? null : Buffer.from(lei, 'latin1').toString('hex'),
      u.searchParams.get('lastEventId')]);
    if (seen.length === 1) { sse(res); return res.end('id: \u2713\ndata: a\n\n'), true; }
    if (!poll) { res.statusCode = 503; return res.end(), true; }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ events: [], last_event_id: '\u2713' }));
    return true;
  };
  await page.evaluate(async () => {
    const { ZsseClient } = await import('/zsse.js');
    window.__c = new ZsseClient('/pollid', { minInterval: 50, baseDelay: 50, maxDelay: 100, pollWait: 1 });
  });
  await until('two polls', () => seen.filter((x) => x[0] === 'poll').length >= 2, 20000);
  await page.evaluate(() => window.__c.close());
  const polls = seen.filter((x) => x[0] === 'poll');
  console.log(`# requests: ${JSON.stringify(seen)}`);
  ok('an id above U+00FF: every later request leaves (stream and poll), Last-Event-ID as UTF-8',
    seen.length >= 7 && seen.slice(1).every((x) => x[1] === 'e29c93'));
  ok('poll mode: lastEventId query holds the id', polls.length >= 2 && polls.every((x) => x[2] === '\u2713'));
}

// --- expiry: N token expiries under a steady flow --------------------------
async function expiry(N) {
  const LIFE = 500, TICK = 10;        // token lifetime (ms), publish period (ms)
  const log = [];                     // published event ids 1..
  const conns = new Set();
  const tokens = new Map();           // token -> exp (ms since epoch)
  let issued = 0, refused = 0, expiries = 0;
  const reqs = [];                    // {lei, want, at}
  let lastEnded = null;               // {lastId, at} of the last expired stream
  const gaps = [];
  const write = (c, id) => { c.res.write(`id: ${id}\nevent: tick\ndata: ${id}\n\n`); c.last = id; };
  route = (req, res, u) => {
    if (u.pathname === '/token') {
      const t = `tok${++issued}`;
      tokens.set(t, Date.now() + LIFE);
      res.end(t);
      return true;
    }
    if (u.pathname !== '/feed') return false;
    const auth = (req.headers.authorization || '').replace(/^Bearer /, '');
    const exp = tokens.get(auth);
    const lei = req.headers['last-event-id'];
    if (lastEnded) {
      reqs.push({ lei, want: String(lastEnded.lastId) });
      gaps.push(Date.now() - lastEnded.at);
      lastEnded = null;
    }
    if (!exp || exp <= Date.now()) {      // as zsse-fcgi: 401 for an expired token
      refused++;
      res.writeHead(401, { 'Content-Type': 'application/json' });
      return res.end('{"error":"invalid_token","message":"token expired"}'), true;
    }
    sse(res);
    const c = { res, last: lei === undefined ? 0 : Number(lei) };
    for (const id of log) if (id > c.last) write(c, id);
    conns.add(c);
    c.timer = setTimeout(() => {        // the token's exp: the named event, then the end
      conns.delete(c);
      res.write('event: auth_expired\ndata: {"reason":"token expired"}\n\n');
      res.end();
      expiries++;
      lastEnded = { lastId: c.last, at: Date.now() };
    }, exp - Date.now());
    res.on('close', () => { conns.delete(c); clearTimeout(c.timer); });
    return true;
  };
  const pub = setInterval(() => {
    const id = log.length + 1;
    log.push(id);
    for (const c of conns) write(c, id);
  }, TICK);

  await page.evaluate(async () => {
    const { ZsseClient } = await import('/zsse.js');
    // the application's token(): keeps its token until told it expired
    let cached = null;
    const token = async (info) => {
      if (!cached || (info && info.expired)) cached = await (await fetch('/token')).text();
      return cached;
    };
    window.__got = [];
    window.__rc = [];
    window.__errors = [];
    const c = new ZsseClient('/feed', { token, minInterval: 250 });
    c.on('tick', (e) => window.__got.push(Number(e.data)));
    c.on('reconnect', (e) => window.__rc.push(e));
    c.on('error', (e) => window.__errors.push(e.status));
    window.__c = c;
  });
  await until(`${N} expiries`, () => expiries >= N, N * LIFE * 4 + 20000);
  // (the reconnect after the last expiry may still be on its way)
  await until('the reconnect after the last expiry', () => reqs.length >= N, 10000);
  clearInterval(pub);
  const last = log.length;
  await until('the last event', async () =>
    (await page.evaluate(() => window.__got[window.__got.length - 1])) === last, 10000);
  const st = await page.evaluate(() => {
    window.__c.close();
    return { got: window.__got, rc: window.__rc, errors: window.__errors };
  });
  console.log(`# ${expiries} expiries, ${last} events published, ${st.got.length} received, ` +
    `${refused} requests refused (401), ${st.errors.length} errors`);
  gaps.sort((a, b) => a - b);
  if (gaps.length)
    console.log(`# from a stream's end at expiry to the next request: median ${gaps[gaps.length >> 1]} ms, ` +
      `max ${gaps[gaps.length - 1]} ms over ${gaps.length}`);
  ok(`${N} consecutive expiries`, expiries >= N, `${expiries}`);
  const want = Array.from({ length: last }, (_, i) => i + 1);
  const lost = want.filter((id) => !st.got.includes(id)).length;
  const repeated = st.got.length - new Set(st.got).size;
  ok(`all ${last} events received in order, none lost, none repeated`,
    JSON.stringify(st.got) === JSON.stringify(want), `${lost} lost, ${repeated} repeated`);
  ok('no request with an expired token (401)', refused === 0, `${refused}`);
  const badLei = reqs.filter((r) => r.lei !== r.want);
  ok('each reconnect after an expiry carried Last-Event-ID = the last id sent',
    reqs.length >= N && badLei.length === 0, `${badLei.length} of ${reqs.length} wrong`);
  const auth = st.rc.filter((r) => r.reason === 'auth_expired');
  ok('each expiry: reconnect at once (reason auth_expired, delay 0), no backoff',
    auth.length >= N && auth.every((r) => r.delay === 0) && st.rc.length === auth.length,
    JSON.stringify(st.rc.slice(0, 5)));
}
