// mercure.mjs -- the Mercure protocol's subscription and publication rules,
// case by case in headless Chromium against a Mercure route: an
// EventSource subscribes with the case's topic selectors, the page POSTs
// the case's update (form-encoded, with the publisher's token), and the
// case passes when the update arrives (or, for the non-matching and
// private cases, does not arrive) with the expected id.  An update that
// must not arrive is followed by a marker update on a topic the
// EventSource also selects: streams deliver in publication order, so when
// the marker comes first the update was not delivered (no guessed wait).
//
//   node mercure.mjs HUB_URL PUBLISHER_TOKEN [--subscriber-token TOKEN]
//
// With --subscriber-token the EventSource carries it in the
// mercureAuthorization cookie: private updates are then expected.
// Prints one JSON line per case: {"name", "expected", "received", "status",
// "contentType", "body", "lastEventId"}; exit 0 (the calling test decides).
import { randomBytes } from 'crypto';
import { launch } from './launch.mjs';

const args = process.argv.slice(2);
const hub = args.shift(), pubToken = args.shift();
let subToken = null;
while (args.length) {
  const a = args.shift();
  if (a === '--subscriber-token') subToken = args.shift();
  else { console.error(`mercure.mjs: unknown argument ${a}`); process.exit(2); }
}
if (!hub || !pubToken) { console.error('usage: node mercure.mjs HUB_URL TOKEN'); process.exit(2); }

const r = () => randomBytes(8).toString('hex');
const base = 'https://example.net/books';
const t = [r(), r(), r(), r(), r()];
const priv = !!subToken;
// name, update topics, subscriber selectors, received?, private?, custom id?
const cases = [
  ['topic', [t[0]], [t[0]], true],
  ['multiple topics', [r(), t[1]], [t[1]], true],
  ['multiple selectors', [t[2]], ['nothing-here', t[2]], true],
  ['URI', [`${base}/${t[3]}`], [`${base}/${t[3]}`], true],
  ['URI template', [`${base}/${t[4]}`], [`${base}/{id}`], true],
  ['URI template, reserved expansion', [`${base}/${t[4]}/reviews/1`], [`${base}/{+rest}`], true],
  ['any topic', [`${base}/${r()}`], ['*'], true],
  ['custom id', [t[0]], [t[0]], true, false, `urn:zsse:${r()}`],
  ['nonmatching topic', ['will-not-match'], ['another-name'], false],
  ['nonmatching URI', [`${base}/will-not-match`], [`${base}/another-name`], false],
  ['nonmatching URI template', [`${base}/will-not-match`], ['https://example.net/authors/{id}'], false],
  ['private topic', [t[0]], [t[0]], priv, true],
  ['private URI', [`${base}/${t[3]}`], [`${base}/${t[3]}`], priv, true],
  ['private URI template', [`${base}/${t[4]}`], [`${base}/{id}`], priv, true, `urn:zsse:${r()}`],
];

const origin = new URL(hub).origin;
const browser = await launch();
try {
  const context = await browser.newContext();
  if (subToken)
    await context.addCookies([{ name: 'mercureAuthorization', value: subToken, url: origin }]);
  const page = await context.newPage();
  await page.route(origin + '/__zsse_test__', (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>mercure</title>' }));
  await page.goto(origin + '/__zsse_test__');
  for (const [name, topics, selectors, expected, isPrivate, id] of cases) {
    const res = await page.evaluate(async ({ hub, pubToken, topics, selectors, isPrivate, id, name }) => {
      const url = new URL(hub);
      for (const s of selectors) url.searchParams.append('topic', s);
      const marker = `urn:zsse:marker:${Math.random().toString(16).slice(2)}`;
      url.searchParams.append('topic', marker);
      const form = new URLSearchParams();
      for (const t of topics) form.append('topic', t);
      form.set('data', `update for\n\n${name}`);
      if (isPrivate) form.set('private', 'on');
      if (id) form.set('id', id);
      const es = new EventSource(url, { withCredentials: true });
      await new Promise((ok, fail) => { es.onopen = ok; setTimeout(() => fail(new Error('no open')), 5000); });
      let got;
      const arrived = new Promise((ok) => { got = ok; });
      es.onmessage = (e) => {
        if (e.data === form.get('data')) got(e.lastEventId);
        else if (e.data === marker) got(null);
      };
      const post = (f) => fetch(url.origin + url.pathname, {
        method: 'POST', headers: { Authorization: `Bearer ${pubToken}` }, body: f });
      const resp = await post(form);
      const body = await resp.text();
      // the marker, published after the update: arrives after it, if it comes
      if (resp.status === 200)
        await (await post(new URLSearchParams({ topic: marker, data: marker }))).text();
      const lastEventId = await Promise.race([arrived, new Promise((ok) => setTimeout(ok, 5000, null))]);
      es.close();
      return { status: resp.status, contentType: resp.headers.get('Content-Type'), body,
               received: lastEventId !== null, lastEventId };
    }, { hub, pubToken, topics, selectors, isPrivate: !!isPrivate, id: id || null, name });
    console.log(JSON.stringify({ name, expected, id: id || null, ...res }));
  }
} finally {
  await browser.close();
}
