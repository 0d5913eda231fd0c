// page.mjs -- load a page in Debian's headless Chromium as a visitor would
// (nothing intercepted: the page, its scripts and its EventSources all come
// from the server) and report what it shows.
//
//   node page.mjs URL --lists a,b [--min N] [--timeout S]
//
// Waits until every list (an element id whose children are <li>) holds at
// least N items (default 2) or TIMEOUT seconds (default 20) pass, then
// prints one JSON line: {"lists": {"a": [texts]...}, "status": {"a-st":
// text...}, "errors": [page errors and console errors]}.  Exit 0 either
// way -- the calling test decides what it expected.
import { launch } from './launch.mjs';

const args = process.argv.slice(2);
const url = args.shift();
let lists = [], min = 2, timeout = 20;
while (args.length) {
  const a = args.shift();
  if (a === '--lists') lists = args.shift().split(',').filter(Boolean);
  else if (a === '--min') min = Number(args.shift());
  else if (a === '--timeout') timeout = Number(args.shift());
  else { console.error(`page.mjs: unknown argument ${a}`); process.exit(2); }
}
if (!url) { console.error('usage: node page.mjs URL --lists a,b [--min N] [--timeout S]'); process.exit(2); }

const browser = await launch();
const errors = [];
const out = { lists: {}, status: {}, errors };
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  // failed loads by URL (the console's own line names none); a browser's
  // own /favicon.ico request is not the page's
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && new URL(r.url()).pathname !== '/favicon.ico') errors.push(`${r.status()} ${r.url()}`);
  });
  await page.goto(url, { timeout: timeout * 1000 });
  try {
    await page.waitForFunction(([ids, n]) =>
      ids.every((id) => { const el = document.getElementById(id); return el && el.children.length >= n; }),
      [lists, min], { timeout: timeout * 1000, polling: 100 });
  } catch (e) { /* reported by what the lists hold */ }
  for (const id of lists) {
    out.lists[id] = await page.$$eval(`#${id} > li`, (els) => els.map((e) => e.textContent));
    const st = await page.$(`#${id}-st`);
    if (st) out.status[`${id}-st`] = await st.textContent();
  }
} catch (e) {
  errors.push(String(e));
}
console.log(JSON.stringify(out));
await browser.close();
