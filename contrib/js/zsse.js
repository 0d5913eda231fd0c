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
//   asked again on every attempt so it can be refreshed) and
//   `Last-Event-ID` once it has one, so a reconnect resumes where it left.
// * parses the stream by the WHATWG rules: CR, LF and CRLF line ends (also
//   split across network chunks), comments, multi-line data, id (ignored
//   when it holds NUL), retry, empty data; a block without data updates
//   the id but dispatches nothing.
// * a stream the server ends cleanly (max_lifetime) reconnects at once;
//   a failure (network error, non-2xx) reconnects after a random delay in
//   [0, min(30 s, 1 s * 2^failures)] ("full jitter").
// * after 5 consecutive failures it falls back to the route's poll mode
//   (GET ?mode=poll&wait=25) and keeps long-polling; it tries a stream
//   again after `streamRetryMs` (default 5 min) of successful polls.
// Life-cycle events: 'open', 'error' ({status, error}), 'fallback', 'poll'
// (after each answered poll), 'comment'.
// Options: token, headers, lastEventId, baseDelay (1000), maxDelay (30000),
// maxFailures (5), pollWait (25), envelope (false: in poll mode, wrap
// events as {"type", "data"} like an envelope-format stream), fetch.

export class ZsseClient {
  constructor(url, opts = {}) {
    this.url = url;
    this.opts = {
      baseDelay: 1000, maxDelay: 30000, maxFailures: 5, pollWait: 25,
      streamRetryMs: 300000, envelope: false, headers: {}, ...opts,
    };
    this.lastEventId = opts.lastEventId || '';
    this.failures = 0;
    this.mode = 'stream';
    this.handlers = new Map();
    this.closed = false;
    this.abort = null;
    this.timer = null;
    this.retry = null;
    queueMicrotask(() => this._loop());
  }

  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(fn);
    return this;
  }

  close() {
    this.closed = true;
    if (this.abort) this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    if (this._wake) this._wake();
  }

  _emit(type, ev) {
    for (const fn of this.handlers.get(type) || []) {
      try { fn(ev); } catch (e) { setTimeout(() => { throw e; }); }
    }
  }

  async _headers(extra) {
    const h = { ...this.opts.headers, ...extra };
    let tok = this.opts.token;
    if (typeof tok === 'function') tok = await tok();
    if (tok) h.Authorization = `Bearer ${tok}`;
    if (this.lastEventId) h['Last-Event-ID'] = this.lastEventId;
    return h;
  }

  _sleep(ms) {
    return new Promise((resolve) => {
      this._wake = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  _delay() {
    const cap = Math.min(this.opts.maxDelay,
      (this.retry ?? this.opts.baseDelay) * 2 ** Math.max(0, this.failures - 1));
    return Math.random() * cap;
  }

  async _loop() {
    let pollSince = 0;
    while (!this.closed) {
      if (this.mode === 'poll') {
        const ok = await this._poll();
        if (this.closed) break;
        if (ok) {
          this.failures = 0;
          if (Date.now() - pollSince > this.opts.streamRetryMs) this.mode = 'stream';
        } else {
          this.failures++;
          await this._sleep(this._delay());
        }
        continue;
      }
      const result = await this._stream();
      if (this.closed) break;
      if (result === 'ended') { this.failures = 0; continue; }
      this.failures++;
      if (this.failures >= this.opts.maxFailures) {
        this.mode = 'poll';
        pollSince = Date.now();
        this.failures = 0;
        this._emit('fallback', { reason: result });
        continue;
      }
      await this._sleep(this._delay());
    }
  }

  // one streaming attempt: 'ended' (clean end) or a failure reason
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
      return 'network';
    }
    const ct = res.headers.get('Content-Type') || '';
    if (!res.ok || !ct.startsWith('text/event-stream') || !res.body) {
      this._emit('error', { status: res.status, error: await res.text().catch(() => '') });
      return `http ${res.status}`;
    }
    this.failures = 0;
    this._emit('open', { status: res.status });
    const parser = new SseParser((ev) => this._dispatch(ev), (f2, v) => this._field(f2, v));
    const reader = res.body.getReader();
    const dec = new TextDecoder('utf-8');
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(dec.decode(value, { stream: true }));
      }
      parser.push(dec.decode());
      return 'ended';
    } catch (err) {
      if (!this.closed) this._emit('error', { status: 0, error: String(err) });
      return 'network';
    }
  }

  _field(name, value) {
    if (name === 'retry') this.retry = value;
    else if (name === 'comment') this._emit('comment', { text: value });
  }

  _dispatch(ev) {
    this.lastEventId = ev.lastEventId;
    if (ev.data === null) return;       // id-only block
    this._emit(ev.type, ev);
  }

  // one poll: true when it got an answer
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
      if (!res.ok) {
        this._emit('error', { status: res.status, error: await res.text().catch(() => '') });
        return false;
      }
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
      this._emit('poll', { events: (body.events || []).length });
      return true;
    } catch (err) {
      if (!this.closed) this._emit('error', { status: 0, error: String(err) });
      return false;
    }
  }
}

// The WHATWG event-stream parser, fed decoded text in arbitrary chunks.
export class SseParser {
  constructor(onEvent, onField = () => {}) {
    this.onEvent = onEvent;
    this.onField = onField;
    this.buf = '';
    this.cr = false;          // last chunk ended in CR: skip a leading LF
    this.first = true;        // strip one BOM at the very start
    this.data = '';
    this.hasData = false;
    this.type = '';
    this.id = '';
  }

  push(text) {
    if (this.first && text.length) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this.first = false;
    }
    if (this.cr && text[0] === '\n') text = text.slice(1);
    this.cr = false;
    this.buf += text;
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (c !== '\r' && c !== '\n') continue;
      this._line(this.buf.slice(start, i));
      if (c === '\r') {
        if (i + 1 === this.buf.length) this.cr = true;
        else if (this.buf[i + 1] === '\n') i++;
      }
      start = i + 1;
    }
    this.buf = this.buf.slice(start);
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
