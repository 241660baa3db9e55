// Watches the signed-in session while the client is open, whatever the view: a quiet stream of the notifications of all
// conversations (GET /api/v1/conversations/events?mode=notifications, nothing read from it). The daemon ends a stream
// within a second once its token stops being valid; the reconnection's 401 makes the client refresh, and a revoked
// device's refresh is refused: the client's onSignedOut runs (tokens cleared, the signed-out view) within seconds,
// even when the page is idle.
import { follow } from './sse.js';

let watch = null;

// Starts watching client's session (one watch at a time: a previous one is stopped).
export function watchSession(client) {
  stopWatch();
  watch = follow(
    () => '/api/v1/conversations/events?mode=notifications',
    async (stale) => {
      if (stale) await client.refresh();
      return client.headers();
    },
    () => {},
  );
}

// Stops the watch (signed out).
export function stopWatch() {
  if (watch) watch.stop();
  watch = null;
}
