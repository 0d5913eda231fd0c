// es.mjs -- open a real browser EventSource (Debian's headless Chromium,
// driven by playwright-core) and print what it receives, one JSON line per
// event: {"type": ..., "data": ..., "lastEventId": ...}; errors and opens
// print {"type": "!error"} / {"type": "!open"}.
//
//   node es.mjs URL [--listen a,b,c] [--count N] [--timeout S] [--cookie N=V]
//
// The page is served on URL's own origin (intercepted by playwright, never
// reaching the server), so the EventSource is same-origin: no CORS needed.
// Exits after COUNT events (counting all types but !open/!error) or TIMEOUT
// seconds (default 15), whichever comes first; exit 0 either way -- the
// calling test decides what it expected.
import { launch } from './launch.mjs';

const args = process.argv.slice(2);
const url = args.shift();
let listen = [], count = 1e9, timeout = 15, cookie = null;
while (args.length) {
  const a = args.shift();
  if (a === '--listen') listen = args.shift().split(',').filter(Boolean);
  else if (a === '--count') count = Number(args.shift());
  else if (a === '--timeout') timeout = Number(args.shift());
  else if (a === '--cookie') cookie = args.shift();   // NAME=VALUE
  else { console.error(`es.mjs: unknown argument ${a}`); process.exit(2); }
}
if (!url) { console.error('usage: node es.mjs URL [--listen a,b] [--count N] [--timeout S]'); process.exit(2); }

const origin = new URL(url).origin;
const browser = await launch();
let done;
const finished = new Promise((r) => { done = r; });
const timer = setTimeout(() => done(), timeout * 1000);
try {
  const context = await browser.newContext();
  if (cookie) {
    const [name, ...v] = cookie.split('=');
    await context.addCookies([{ name, value: v.join('='), url: origin }]);
  }
  const page = await context.newPage();
  await page.route(origin + '/__zsse_test__', (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>es</title>' }));
  let n = 0;
  await page.exposeFunction('report', (line) => {
    console.log(line);
    const t = JSON.parse(line).type;
    if (t !== '!open' && t !== '!error' && ++n >= count) done();
  });
  await page.goto(origin + '/__zsse_test__');
  await page.evaluate(({ url, listen }) => {
    const es = new EventSource(url);
    const rep = (type, e) => window.report(JSON.stringify(
      { type, data: e && e.data, lastEventId: e && e.lastEventId }));
    es.onopen = () => rep('!open');
    es.onerror = () => rep('!error');
    es.onmessage = (e) => rep('message', e);
    for (const t of listen) es.addEventListener(t, (e) => rep(t, e));
    window.__es = es;
  }, { url, listen });
  await finished;
} finally {
  clearTimeout(timer);
  await browser.close();
}
