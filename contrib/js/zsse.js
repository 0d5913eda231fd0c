// zsse.js -- a small, dependency-free SSE client for browsers that must
// send headers (an EventSource cannot send Authorization).
//
//   import { ZsseClient } from './zsse.js';
//   const c = new ZsseClient('/v1/sse/updates', { token: () => myJwt });
//   c.on('balance.changed', (e) => console.log(e.data, e.lastEventId));
//   c.on('message', (e) => ...);          // unnamed events
//   c.close();
//
// What it does, in the order it matters:
// * fetch() with `Authorization: Bearer <token>` (token: string or function,
//   asked again on every attempt so it can be refreshed; it is passed
//   {expired: true} after the server said the token expired) and
//   `Last-Event-ID` once it has one, so a reconnect resumes where it left.
//   The last event id is kept across connections (and starts from the
//   `lastEventId` option) until a server's `id:` changes it, as the
//   browser's EventSource keeps it; the header carries it as UTF-8, as the
//   browser sends it.
// * parses the stream by the WHATWG rules, as Chromium's EventSource does
//   (tests/integration/js_diff.sh compares the two on a corpus of streams
//   in every chunking): CR, LF and CRLF line ends (also split across
//   chunks), one leading BOM, comments, multi-line data, id (ignored when it
//   holds NUL), retry, empty data; a block without data updates the id but
//   dispatches nothing; an unfinished block at the end of a stream is
//   dropped.  Each chunk is scanned once (linear in the stream's length).
// * how the server ends or refuses decides what follows:
//   - the route's auth-expiry event (`authExpiredEvent`, default
//     'auth_expired') then the end of the stream: a fresh token() and a
//     reconnect at once, with Last-Event-ID;
//   - a clean end of a stream that delivered something (an event, a
//     comment) or lived `maxDelay` (max_lifetime, a server's restart):
//     reconnect after a random delay in [0, base] (below), so that
//     streams that ended together do not all come back at once;
//   - a failure (network error, 401, 408, 429, 500, 502, 503, 504, or a
//     stream that ended without delivering anything): reconnect after a
//     random delay in [0, min(maxDelay, base * 2^(failures-1))] ("full
//     jitter"; base: the server's `retry:`, else baseDelay, never below
//     minInterval), and not before a Retry-After;
//   - 204 or any other answer that is not a 200 text/event-stream: stop
//     for good ('close' event), as the browser's EventSource stops.
//   Whatever the path, two attempts (stream or poll) start at least
//   `minInterval` ms apart: neither `retry: 0` nor a server that ends
//   every stream at once makes a hot loop.
// * after 5 consecutive failures it falls back to the route's poll mode
//   (GET ?mode=poll&wait=25) and keeps long-polling; it tries a stream
//   again after `streamRetryMs` (default 5 min) of successful polls.
// Life-cycle events: 'open', 'error' ({status, error}), 'close' ({status,
// reason}: stopped for good), 'reconnect' ({reason, delay}), 'fallback',
// 'poll' (after each answered poll), 'comment'.
// Options: token, headers, lastEventId, baseDelay (1000), maxDelay (30000),
// minInterval (1000), maxFailures (5), pollWait (25), authExpiredEvent
// ('auth_expired'; null: none), envelope (false: in poll mode, wrap events
// as {"type", "data"} like an envelope-format stream), fetch.

// HTTP answers after which a later attempt may succeed; any other answer
// that is not a 200 stream stops the client (as it stops an EventSource)
// HTTP answers after which a later attempt may succeed; any other answer
// that is not a 200 stream stops the client (as it stops an EventSource)
const RETRY_STATUS = new Set([401, 408, 429, 500, 502, 503, 504]);

// `s` as a header value of its UTF-8 bytes (fetch sends each char as a byte)
function utf8Header(s) {
  let out = '';
  for (const b of new TextEncoder().encode(s)) out += String.fromCharCode(b);
  return out;
}

// the MIME type's essence, compared as MIME types are: case-insensitively
function isEventStream(ct) {
  return (ct || '').split(';')[0].trim().toLowerCase() === 'text/event-stream';
}

// Retry-After in ms (seconds form only), 0 when absent or not a number
function retryAfter(res) {
  const v = (res.headers.get('Retry-After') || '').trim();
  return /^[0-9]+$/.test(v) ? Number(v) * 1000 : 0;
}

export class ZsseClient {
  constructor(url, opts = {}) {
    this.url = url;
    this.opts = {
      baseDelay: 1000, maxDelay: 30000, minInterval: 1000, maxFailures: 5, pollWait: 25,
      streamRetryMs: 300000, envelope: false, headers: {}, authExpiredEvent: 'auth_expired',
      ...opts,
    };
    this.lastEventId = opts.lastEventId != null ? String(opts.lastEventId) : '';
    this.failures = 0;
    this.mode = 'stream';
    this.handlers = new Map();
    this.closed = false;
    this.abort = null;
    this.timer = null;
    this.retry = null;          // the server's retry: (ms)
    this.expired = false;       // the server said the token expired
    this.lastAttempt = -Infinity;
    queueMicrotask(() => this._loop());
  }

  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(fn);
    return this;
  }

  // stop for good; 'close' tells why ({status: 0, reason: 'closed'} when
  // called by the application)
  close(status = 0, reason = 'closed') {
    if (this.closed) return;
    this.closed = true;
    if (this.abort) this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    if (this._wake) this._wake();
    this._emit('close', { status, reason });
  }

  _emit(type, ev) {
    for (const fn of this.handlers.get(type) || []) {
      try { fn(ev); } catch (e) { setTimeout(() => { throw e; }); }
    }
  }

  async _headers(extra) {
    const h = { ...this.opts.headers, ...extra };
    let tok = this.opts.token;
    if (typeof tok === 'function') tok = await tok({ expired: this.expired });
    if (tok) h.Authorization = `Bearer ${tok}`;
    if (this.lastEventId) h['Last-Event-ID'] = utf8Header(this.lastEventId);
    return h;
  }

  _sleep(ms) {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this._wake = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  _backoff() {
    const base = Math.max(this.opts.minInterval, this.retry ?? this.opts.baseDelay);
    const cap = Math.min(this.opts.maxDelay, base * 2 ** Math.max(0, this.failures - 1));
    return Math.random() * cap;
  }

  // the delay (ms) before the next attempt after `result` ({kind, after}),
  // counting failures; the loop adds the minInterval bound
  _next(result) {
    if (result.kind === 'auth') {           // fresh token, resume at once
      this.failures = 0;
      this.expired = true;
      return 0;
    }
    if (result.kind === 'ended') {          // max_lifetime, a server's restart:
      this.failures = 0;                    // spread out those that ended together
      return this._backoff();
    }
    this.failures++;
    return Math.max(this._backoff(), Math.min(result.after || 0, this.opts.maxDelay));
  }

  async _loop() {
    let pollSince = 0;
    while (!this.closed) {
      // the rate bound of every path: attempts start minInterval apart
      await this._sleep(this.lastAttempt + this.opts.minInterval - Date.now());
      if (this.closed) break;
      this.lastAttempt = Date.now();
      const polling = this.mode === 'poll';
      const result = polling ? await this._poll() : await this._stream();
      if (this.closed) break;
      if (result.kind === 'stop') { this.close(result.status, result.reason); break; }
      if (polling) {
        if (result.kind === 'ended' && Date.now() - pollSince > this.opts.streamRetryMs)
          this.mode = 'stream';
      } else if (result.kind === 'failed' && this.failures + 1 >= this.opts.maxFailures) {
        this.mode = 'poll';
        pollSince = Date.now();
        this.failures = 0;
        this._emit('fallback', { reason: result.reason });
        continue;
      }
      const delay = this._next(result);
      if (polling && result.kind === 'ended') continue;
      const wait = Math.max(delay, this.lastAttempt + this.opts.minInterval - Date.now());
      this._emit('reconnect', { reason: result.reason, delay: Math.max(0, Math.round(wait)) });
      await this._sleep(wait);
    }
  }

  // what an HTTP answer that is not what we asked for means
  async _refused(res) {
    this._emit('error', { status: res.status, error: await res.text().catch(() => '') });
    if (RETRY_STATUS.has(res.status))
      return { kind: 'failed', reason: `http ${res.status}`, after: retryAfter(res) };
    return { kind: 'stop', status: res.status,
      reason: res.status === 200 ? 'not text/event-stream' : `http ${res.status}` };
  }

  // one streaming attempt: {kind: 'ended' | 'auth' | 'failed' | 'stop', reason}
  async _stream() {
    const f = this.opts.fetch || fetch;
    this.abort = new AbortController();
    let res;
    try {
      res = await f(this.url, {
        headers: await this._headers({ Accept: 'text/event-stream' }),
        cache: 'no-store', signal: this.abort.signal,
      });
    } catch (err) {
      if (!this.closed) this._emit('error', { status: 0, error: String(err) });
      return { kind: 'failed', reason: 'network' };
    }
    if (res.status !== 200 || !isEventStream(res.headers.get('Content-Type')) || !res.body)
      return this._refused(res);
    this.expired = false;
    this._emit('open', { status: res.status });
    const opened = Date.now();
    let delivered = false, expired = false;
    const parser = new SseParser((ev) => {
      delivered = true;
      if (ev.type === this.opts.authExpiredEvent && ev.data !== null) expired = true;
      this._dispatch(ev);
    }, (name, v) => {
      if (name === 'comment') delivered = true;
      this._field(name, v);
    }, this.lastEventId);
    const reader = res.body.getReader();
    const dec = new TextDecoder('utf-8', { ignoreBOM: true });   // the parser drops one BOM
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(dec.decode(value, { stream: true }));
      }
      parser.push(dec.decode());
    } catch (err) {
      if (this.closed) return { kind: 'failed', reason: 'closed' };
      this._emit('error', { status: 0, error: String(err) });
      return expired ? { kind: 'auth', reason: 'auth_expired' } : { kind: 'failed', reason: 'network' };
    }
    if (expired) return { kind: 'auth', reason: 'auth_expired' };
    if (delivered || Date.now() - opened >= this.opts.maxDelay) return { kind: 'ended', reason: 'ended' };
    return { kind: 'failed', reason: 'ended empty' };
  }

  _field(name, value) {
    if (name === 'retry') this.retry = value;
    else if (name === 'comment') this._emit('comment', { text: value });
  }

  _dispatch(ev) {
    this.lastEventId = ev.lastEventId;
    if (ev.data === null) return;       // id-only block
    this.failures = 0;
    this._emit(ev.type, ev);
  }

  // one poll: {kind: 'ended'} when it got an answer
  async _poll() {
    const f = this.opts.fetch || fetch;
    const u = new URL(this.url, globalThis.location ? location.href : undefined);
    u.searchParams.set('mode', 'poll');
    u.searchParams.set('wait', String(this.opts.pollWait));
    if (this.lastEventId) u.searchParams.set('lastEventId', this.lastEventId);
    this.abort = new AbortController();
    try {
      const res = await f(u.toString(), {
        headers: await this._headers({ Accept: 'application/json' }),
        cache: 'no-store', signal: this.abort.signal,
      });
      if (res.status !== 200) return this._refused(res);
      this.expired = false;
      const body = await res.json();
      if (body.reset) this._emit('reset', { type: 'reset', data: JSON.stringify({ reason: body.reset }), lastEventId: this.lastEventId });
      for (const e of body.events || []) {
        const type = e.event || 'message';
        let data = typeof e.data === 'string' ? e.data : JSON.stringify(e.data);
        if (this.opts.envelope) data = JSON.stringify({ type, data: e.data });
        this.lastEventId = String(e.id);
        this._emit(this.opts.envelope ? 'message' : type,
          { type: this.opts.envelope ? 'message' : type, data, lastEventId: this.lastEventId });
      }
      if (body.last_event_id) this.lastEventId = String(body.last_event_id);
      this.failures = 0;
      this._emit('poll', { events: (body.events || []).length });
      return { kind: 'ended', reason: 'poll' };
    } catch (err) {
      if (!this.closed) this._emit('error', { status: 0, error: String(err) });
      return { kind: 'failed', reason: 'network' };
    }
  }
}

// The WHATWG event-stream parser, fed decoded text in arbitrary chunks
// (empty ones too).  `lastEventId` is the id the stream starts from: the
// one an earlier connection left.  Each push scans only its own text; the
// unfinished line is kept as a list of pieces, joined once at its end.
export class SseParser {
  constructor(onEvent, onField = () => {}, lastEventId = '') {
    this.onEvent = onEvent;
    this.onField = onField;
    this.pieces = [];         // the unfinished line
    this.cr = false;          // the last character seen was CR: skip one LF
    this.first = true;        // no character seen yet: drop one BOM
    this.data = '';
    this.hasData = false;
    this.type = '';
    this.id = lastEventId;    // last event ID buffer
  }

  push(text) {
    if (!text.length) return;
    let i = 0;
    if (this.first) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) i = 1;
    }
    if (this.cr && text[i] === '\n') i++;
    this.cr = false;
    let start = i;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 13 && c !== 10) continue;
      let line = text.slice(start, i);
      if (this.pieces.length) {
        this.pieces.push(line);
        line = this.pieces.join('');
        this.pieces = [];
      }
      this._line(line);
      if (c === 13) {
        if (i + 1 === text.length) this.cr = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    if (start < text.length) this.pieces.push(text.slice(start));
  }

  _line(line) {
    if (line === '') return this._dispatch();
    if (line[0] === ':') return this.onField('comment', line.slice(1));
    const colon = line.indexOf(':');
    let field = line, value = '';
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value[0] === ' ') value = value.slice(1);
    }
    switch (field) {
      case 'event': this.type = value; break;
      case 'data': this.data += value + '\n'; this.hasData = true; break;
      case 'id': if (!value.includes('\0')) this.id = value; break;
      case 'retry': if (/^[0-9]+$/.test(value)) this.onField('retry', Number(value)); break;
      default: break;
    }
  }

  _dispatch() {
    const ev = { type: this.type || 'message', lastEventId: this.id, data: null };
    if (this.hasData) ev.data = this.data.slice(0, -1);
    this.data = '';
    this.hasData = false;
    this.type = '';
    this.onEvent(ev);
  }
}
