// diff.mjs -- contrib/js/zsse.js against Chromium's own EventSource as the
// oracle: every case of a corpus of byte streams, served in every chunking,
// to both side by side in headless Chromium; any difference fails.
//
//   node diff.mjs CORPUS_DIR [--lib zsse.js] [--only NAME] [--timeout S]
//
// Corpus: CASE.sse is the body of the first connection, CASE.2.sse of the
// second (and so on); after the last body every request is answered 204,
// which stops both clients.  CASE.head may set `status: N` and
// `content-type: T` for every body of the case (default 200,
// text/event-stream).  Chunkings: whole, one byte per write, split after
// every CR (inside CRLF), split inside every UTF-8 character, random sizes
// (seeded).  Writes are 2 ms apart with Nagle off, so the browser reads them
// one by one.
//
// Compared per client (native EventSource "es", ZsseClient "zs"): the
// events (type, data, lastEventId), the number of requests, the raw bytes
// of each request's Last-Event-ID header, and that it stopped (closed).  A
// third column, "ps", feeds the first body's decoded text to zsse.js's
// SseParser with an empty string pushed between chunks, compared with the
// native events of the first connection.  Besides the corpus, zsse.js alone:
// a `lastEventId` option is kept across connections that carry no id.
//
// The test server (node http, 127.0.0.1, random ports) serves the page and
// zsse.js itself; one page per port keeps under Chromium's six connections
// per host.  Prints "ok - ..." / "not ok - ..." per run; exits 1 on any
// difference.
import { launch } from './launch.mjs';
import http from 'node:http';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const dir = args.shift();
let libPath = path.join(here, '../../contrib/js/zsse.js'), only = null, timeout = 20;
while (args.length) {
  const a = args.shift(), v = args.shift();
  if (a === '--lib') libPath = v;
  else if (a === '--only') only = v;
  else if (a === '--timeout') timeout = Number(v);
  else { console.error(`diff.mjs: unknown argument ${a}`); process.exit(2); }
}
const lib = readFileSync(libPath, 'utf8');
const PORTS = 6, PER_PAGE = 3, GAP_MS = 2, GRACE_MS = 1500;

// --- corpus and chunkings -------------------------------------------------
const cases = [];
for (const f of readdirSync(dir).sort()) {
  const m = /^([A-Za-z0-9_]+)\.sse$/.exec(f);
  if (!m || (only && m[1] !== only)) continue;
  const name = m[1], bodies = [readFileSync(path.join(dir, f))];
  for (let i = 2; existsSync(path.join(dir, `${name}.${i}.sse`)); i++)
    bodies.push(readFileSync(path.join(dir, `${name}.${i}.sse`)));
  const head = { status: 200, type: 'text/event-stream' };
  const hf = path.join(dir, `${name}.head`);
  if (existsSync(hf)) {
    for (const line of readFileSync(hf, 'latin1').split('\n')) {
      const [k, ...v] = line.split(':');
      if (k === 'status') head.status = Number(v.join(':'));
      else if (k === 'content-type') head.type = v.join(':').trim();
    }
  }
  // event types the listeners need: every `event` field's value
  const types = new Set(['message']);
  for (const b of bodies)
    for (const line of new TextDecoder().decode(b).split(/\r\n|\r|\n/)) {
      const e = /^event(?::( ?)(.*))?$/.exec(line);
      if (e) types.add(e[2] || 'message');
    }
  cases.push({ name, bodies, head, types: [...types] });
}

function splitAt(buf, points) {
  const out = [];
  let s = 0;
  for (const p of [...new Set(points)].sort((a, b) => a - b))
    if (p > s && p < buf.length) { out.push(buf.subarray(s, p)); s = p; }
  out.push(buf.subarray(s));
  return out;
}
function rng(seed) {
  return () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
}
const chunkings = {
  whole: (b) => [b],
  bytes: (b) => splitAt(b, [...b.keys()].slice(1)),
  crlf: (b) => splitAt(b, [...b.keys()].filter((i) => b[i - 1] === 0x0d)),
  utf8: (b) => splitAt(b, [...b.keys()].filter((i) => (b[i] & 0xc0) === 0x80)),
  random: (b) => {
    const r = rng(b.length + 7), pts = [];
    for (let i = 1 + Math.floor(r() * 5); i < b.length; i += 1 + Math.floor(r() * 5)) pts.push(i);
    return splitAt(b, pts);
  },
};

const runs = [];
for (const c of cases)
  for (const ch of Object.keys(chunkings))
    if (ch === 'bytes' && c.bodies.some((b) => b.length > 400)) continue;
    else runs.push({ id: runs.length, c, ch, req: { es: [], zs: [] } });
// zsse.js alone: the lastEventId option survives connections without ids
const optRun = { id: runs.length, opt: true, c: { name: 'option_last_event_id',
  bodies: [Buffer.from('data: a\n\n'), Buffer.from('data: b\n\n')],
  head: { status: 200, type: 'text/event-stream' }, types: ['message'] },
  ch: 'whole', req: { zs: [] } };
runs.push(optRun);

// --- the test server ------------------------------------------------------
const page = (port) => `<!doctype html><title>diff ${port}</title>`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function handle(req, res) {
  const u = new URL(req.url, 'http://x');
  if (u.pathname === '/index.html') return res.end(page(req.socket.localPort));
  if (u.pathname === '/zsse.js') {
    res.setHeader('Content-Type', 'text/javascript');
    return res.end(lib);
  }
  const m = /^\/run\/(\d+)\/(es|zs)$/.exec(u.pathname);
  if (!m) { res.statusCode = 404; return res.end(); }
  const run = runs[Number(m[1])], who = m[2];
  const lei = req.headers['last-event-id'];
  // node keeps header bytes as latin1: hex shows exactly what was sent
  run.req[who].push(lei === undefined ? null : Buffer.from(lei, 'latin1').toString('hex'));
  const n = run.req[who].length;
  req.socket.setNoDelay(true);
  if (n > run.c.bodies.length) { res.statusCode = 204; return res.end(); }
  res.statusCode = run.c.head.status;
  res.setHeader('Content-Type', run.c.head.type);
  res.setHeader('Cache-Control', 'no-store');
  if (res.statusCode === 204) return res.end();
  res.flushHeaders();
  for (const chunk of chunkings[run.ch](run.c.bodies[n - 1])) {
    if (chunk.length) res.write(chunk);
    await sleep(GAP_MS);
  }
  res.end();
}
const servers = [];
for (let i = 0; i < PORTS; i++) {
  const s = http.createServer((req, res) => handle(req, res).catch((e) => {
    console.error(e); res.destroy();
  }));
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  servers.push(s);
}

// --- the page side --------------------------------------------------------
// start(run): native EventSource and ZsseClient side by side (and the
// parser alone), results kept in window.R[id]
function pageStart(r) {
  const R = (window.R ||= {});
  const o = R[r.id] = { es: { ev: [], closed: false }, zs: { ev: [], closed: false }, ps: null };
  const url = (who) => `/run/${r.id}/${who}`;
  if (!r.opt) {
    const es = new EventSource(url('es'));
    const conn = { n: 0 };
    es.onopen = () => { conn.n++; };
    for (const t of r.types)
      es.addEventListener(t, (e) => o.es.ev.push([e.type, e.data, e.lastEventId, conn.n]));
    es.onerror = () => { if (es.readyState === 2) o.es.closed = true; };
    // the parser alone: decoded chunks with empty strings between them
    // (streams only: a refused answer's body is never parsed)
    if (!r.stream) o.ps = [];
    else import('/zsse.js').then(({ SseParser }) => {
      const ev = [];
      const p = new SseParser((e) => { if (e.data !== null) ev.push([e.type, e.data, e.lastEventId]); });
      const dec = new TextDecoder('utf-8', { ignoreBOM: true });
      p.push('');
      for (const c of r.chunks) { p.push(dec.decode(new Uint8Array(c), { stream: true })); p.push(''); }
      p.push(dec.decode());
      o.ps = ev;
    });
  }
  import('/zsse.js').then(({ ZsseClient }) => {
    const opts = { baseDelay: 200, maxDelay: 1000 };
    if (r.opt) opts.lastEventId = '42';
    const c = new ZsseClient(url('zs'), opts);
    for (const t of r.types)
      c.on(t, (e) => o.zs.ev.push([e.type, e.data, e.lastEventId]));
    c.on('close', () => { o.zs.closed = true; });
    o.zsc = c;
  });
}
function pageState(id) {
  const o = window.R[id];
  if (o.zsc && o.zsc.closed) o.zs.closed = true;   // (older zsse.js: no 'close' event)
  return { es: o.es, zs: o.zs, ps: o.ps };
}
function pageStop(id) {
  const o = window.R[id];
  if (o.zsc) o.zsc.close();
}

const browser = await launch();
let failed = 0;
try {
  const pages = [];
  for (const s of servers) {
    const p = await browser.newPage();
    await p.goto(`http://127.0.0.1:${s.address().port}/index.html`);
    pages.push(p);
  }
  const queue = [...runs];
  async function worker(p) {
    for (let r; (r = queue.shift());) {
      const first = r.c.bodies[0];
      const stream = r.c.head.status === 200 &&
        r.c.head.type.split(';')[0].trim().toLowerCase() === 'text/event-stream';
      await p.evaluate(pageStart, { id: r.id, types: r.c.types, opt: !!r.opt, stream,
        chunks: chunkings[r.ch](first).map((c) => [...c]) });
      const t0 = Date.now();
      const want = r.opt ? ['zs'] : ['es', 'zs'];
      let st;
      // until every client stopped (or the time is up), then a grace period
      // in which a client that should have stopped would call again
      for (;;) {
        st = await p.evaluate(pageState, r.id);
        const stopped = want.every((w) => st[w].closed);
        if ((stopped && (r.opt || st.ps)) || Date.now() - t0 > timeout * 1000) break;
        await sleep(100);
      }
      await sleep(GRACE_MS);
      st = await p.evaluate(pageState, r.id);
      await p.evaluate(pageStop, r.id);
      report(r, st);
    }
  }
  await Promise.all(pages.flatMap((p) => Array.from({ length: PER_PAGE }, () => worker(p))));
} finally {
  await browser.close();
  for (const s of servers) { s.closeAllConnections(); s.close(); }
}
console.log(`diff: ${runs.length} runs, ${failed} with a difference`);
process.exit(failed ? 1 : 0);

function report(r, st) {
  const name = `${r.c.name} (${r.ch})`;
  const diffs = [];
  const J = JSON.stringify;
  if (r.opt) {
    // the browser's rule: the last event id is kept until a server's id: changes it
    const want = ['3432', '3432', '3432'];
    if (J(r.req.zs) !== J(want)) diffs.push(`Last-Event-ID per request ${J(r.req.zs)}, want ${J(want)}`);
    if (!st.zs.closed) diffs.push('zs did not stop on 204');
  } else {
    const es = st.es.ev.map((e) => e.slice(0, 3));
    if (J(es) !== J(st.zs.ev)) diffs.push(`events es=${J(es)} zs=${J(st.zs.ev)}`);
    const es1 = st.es.ev.filter((e) => e[3] <= 1).map((e) => e.slice(0, 3));
    if (st.ps && J(es1) !== J(st.ps)) diffs.push(`parser es=${J(es1)} ps=${J(st.ps)}`);
    if (!st.ps) diffs.push('parser did not finish');
    if (J(r.req.es) !== J(r.req.zs))
      diffs.push(`requests (Last-Event-ID hex) es=${J(r.req.es)} zs=${J(r.req.zs)}`);
    if (st.es.closed !== st.zs.closed) diffs.push(`stopped es=${st.es.closed} zs=${st.zs.closed}`);
  }
  if (diffs.length) {
    failed++;
    console.log(`not ok - ${name}: ${diffs.join('; ')}`);
  } else {
    console.log(`ok - ${name}`);
  }
}
