// demo.mjs -- contrib/demo's page in headless Chromium, as a visitor sees
// it: the board is drawn, a card moves (its column changes) and flashes,
// the balance and the broker's figures show, and a reload in the middle
// resumes from the Last-Event-ID without a gap.  Takes two screenshots
// (before and after a move) into OUTDIR.  Prints one JSON line of what it
// saw; the calling test decides.
//
//   node demo.mjs URL OUTDIR
import { launch } from './launch.mjs';

const [url, outdir] = process.argv.slice(2);
const browser = await launch();
const res = { cards: 0, moved: null, flashed: false, balance: null, streams: null, rate: null,
              reloaded: false, lastNBefore: null, firstNAfter: null, gapsAfter: null,
              resumed: false, shots: [] };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
try {
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 720 } })).newPage();
  await page.goto(url);
  await page.waitForFunction(() => document.querySelectorAll('.card').length >= 6, null, { timeout: 20000 });
  res.cards = await page.evaluate(() => document.querySelectorAll('.card').length);
  const where = () => page.evaluate(() => Object.fromEntries(
    [...document.querySelectorAll('.card')].map((c) => [c.id, c.parentElement.dataset.col])));
  const before = await where();
  await page.screenshot({ path: `${outdir}/demo-1.png` });
  res.shots.push(`${outdir}/demo-1.png`);
  // a card flashes when a move arrives; wait for a card in another column
  const t0 = Date.now();
  while (Date.now() - t0 < 20000 && !res.moved) {
    res.flashed ||= await page.evaluate(() => !!document.querySelector('.card.flash'));
    const now = await where();
    for (const id of Object.keys(now))
      if (before[id] && now[id] !== before[id]) res.moved = { id, from: before[id], to: now[id] };
    await sleep(100);
  }
  await page.screenshot({ path: `${outdir}/demo-2.png` });
  res.shots.push(`${outdir}/demo-2.png`);
  await page.waitForFunction(() => /\d/.test(document.getElementById('balance').textContent) &&
    /\d/.test(document.getElementById('m-rate').textContent), null, { timeout: 20000 }).catch(() => {});
  res.balance = await page.textContent('#balance');
  res.streams = await page.textContent('#m-streams');
  res.rate = await page.textContent('#m-rate');
  // reload in the middle: moves published meanwhile must come in the replay
  res.lastNBefore = await page.evaluate(() => window.demo.lastN);
  await page.reload();
  res.reloaded = true;
  await page.waitForFunction(() => window.demo && window.demo.firstNAfterResume !== null &&
    window.demo.events >= 3, null, { timeout: 20000 }).catch(() => {});
  const d = await page.evaluate(() => window.demo);
  res.firstNAfter = d.firstNAfterResume;
  res.gapsAfter = d.gaps;
  res.resumed = d.resumed;
} catch (e) {
  res.error = String(e);
}
console.log(JSON.stringify(res));
await browser.close();
