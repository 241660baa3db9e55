// Server-sent events over fetch() streaming, so the Authorization header can be sent (EventSource cannot).
// parseSSE feeds decoded text and calls onEvent({id, event, data}) for each complete event (WHATWG SSE rules, minus retry).
export function createSSEParser(onEvent) {
  let buf = '';
  let id = null, event = '', data = [];
  function line(l) {
    if (l === '') {
      if (data.length) onEvent({ id, event: event || 'message', data: data.join('\n') });
      event = ''; data = [];
      return;
    }
    if (l.startsWith(':')) return;
    const i = l.indexOf(':');
    const field = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? '' : l.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) id = value;
  }
  return function feed(text) {
    buf += text;
    let m;
    while ((m = /\r\n|\r|\n/.exec(buf)) !== null) {
      if (m[0] === '\r' && m.index === buf.length - 1) break; // a CRLF may be split across chunks
      line(buf.slice(0, m.index));
      buf = buf.slice(m.index + m[0].length);
    }
  };
}

// Follows one event stream until stop() is called: reconnects after an error or the end of the stream from the last event
// seen (urlFor(lastId) builds the URL: the daemon's ?after= wins over Last-Event-ID, so both carry it).
// getHeaders(stale) is awaited before each connection, stale true after a 401 (the daemon ends a stream whose token was
// rotated or revoked: get a fresh one; the first 401 in a row is retried at once); onEvent receives {id, event, data};
// onState('live' | 'reconnecting').
// A connection silent for SILENT_MS (the daemon sends a heartbeat every 15 s) is taken as dead — after a laptop's sleep
// or a network change the socket may never report an error — and the wait between attempts (500 ms doubling to 15 s)
// is cut short when the browser comes back online or the page becomes visible again.
const SILENT_MS = 40000;

export function follow(urlFor, getHeaders, onEvent, onState) {
  let lastId = null;
  let stopped = false;
  let controller = null;
  let wake = null; // resolves the current wait between attempts early
  let lastData = Date.now(); // wall clock: it keeps running while the machine sleeps, timers may not
  const nudge = () => {
    if (wake) wake();
  };
  let hurry = false; // reconnect without waiting (the connection was dropped on purpose)
  const onOnline = () => {
    hurry = true;
    if (controller) controller.abort(); // the network changed: the old connection may be dead without knowing it
    nudge();
  };
  const onVisible = () => {
    if (document.visibilityState !== 'visible') return;
    if (Date.now() - lastData > SILENT_MS && controller) {
      hurry = true;
      controller.abort();
    }
    nudge();
  };
  window.addEventListener('online', onOnline);
  document.addEventListener('visibilitychange', onVisible);
  async function run() {
    let delay = 500;
    let stale = false;
    let quick401 = false; // the last attempt was a 401 retried at once: the next one waits
    while (!stopped) {
      controller = new AbortController();
      const mine = controller;
      let silence = null;
      const quiet = () => {
        lastData = Date.now();
        clearTimeout(silence);
        silence = setTimeout(() => mine.abort(), SILENT_MS);
      };
      try {
        const headers = Object.assign({ Accept: 'text/event-stream' }, await getHeaders(stale));
        stale = false;
        if (lastId !== null) headers['Last-Event-ID'] = lastId;
        quiet();
        const res = await fetch(urlFor(lastId), { headers, signal: mine.signal, cache: 'no-store' });
        if (res.status === 401) stale = true;
        if (!res.ok || !res.body) throw new Error('stream ' + res.status);
        onState && onState('live');
        delay = 500;
        quick401 = false;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        const feed = createSSEParser((ev) => {
          if (ev.id !== null) lastId = ev.id;
          onEvent(ev);
        });
        for (;;) {
          quiet();
          const { value, done } = await reader.read();
          if (done) break;
          feed(value);
        }
      } catch (e) {
        if (stopped) return;
        onState && onState('reconnecting');
      } finally {
        clearTimeout(silence);
      }
      if (stopped) return;
      if (hurry || (stale && !quick401)) { // a 401: fresh headers at once (a second one in a row waits)
        quick401 = stale;
        hurry = false;
        continue;
      }
      await new Promise((r) => {
        const t = setTimeout(r, delay);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      wake = null;
      delay = Math.min(delay * 2, 15000);
    }
  }
  run();
  return {
    stop() {
      stopped = true;
      window.removeEventListener('online', onOnline);
      document.removeEventListener('visibilitychange', onVisible);
      if (controller) controller.abort();
      nudge();
    },
  };
}
