// Watches the signed-in session while the client is open: a quiet stream of the notifications of all conversations
// (GET /api/v1/conversations/events?mode=notifications, nothing read from it). The daemon ends a stream within a second
// once its token stops being valid; the reconnection's 401 makes the client refresh, and a revoked device's refresh is
// refused: the client's onSignedOut runs (tokens cleared, the signed-out view) within seconds, even when the page is
// idle. Paused on the list and in a conversation: their own event streams end the same way, and a browser has few
// HTTP/1.1 connections per site to share between its tabs.
import { follow } from './sse.js';

let client = null;
let watch = null;

function sync() {
  const view = document.body.dataset.view;
  const wanted = client !== null && view !== 'list-view' && view !== 'conv-view';
  if (wanted && !watch) {
    const c = client;
    watch = follow(
      () => '/api/v1/conversations/events?mode=notifications',
      async (stale) => {
        if (stale) await c.refresh();
        return c.headers();
      },
      () => {},
    );
  } else if (!wanted && watch) {
    watch.stop();
    watch = null;
  }
}

new MutationObserver(sync).observe(document.body, { attributes: true, attributeFilter: ['data-view'] });

// Starts watching signedIn's session (a Client; one at a time: a previous watch is stopped).
export function watchSession(signedIn) {
  stopWatch();
  client = signedIn;
  sync();
}

// Stops the watch (signed out).
export function stopWatch() {
  client = null;
  sync();
}
