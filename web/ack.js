// Read receipts: markRead(id) acks a conversation (read up to its last event, for this device) at most once a second and
// only while the page is visible (a hidden page acks when it is shown again); flushRead() sends what is pending at once
// and resolves when the acks sent so far are answered (the list awaits it so its unread counts include them).
import { state } from './ui.js';

const GAP = 1000;
let pending = null; // the conversation id waiting to be acked
let timer = null;
let last = 0;
let inflight = Promise.resolve();

function send() {
  clearTimeout(timer);
  timer = null;
  const id = pending;
  if (!id || !state.client || document.visibilityState !== 'visible') return;
  pending = null;
  last = Date.now();
  inflight = Promise.all([inflight, state.client.ack(id).catch(() => {})]);
}

// Acks conversation id soon (throttled to one ack per second).
export function markRead(id) {
  if (pending && pending !== id) send();
  pending = id;
  if (timer) return;
  const wait = Math.max(0, last + GAP - Date.now());
  if (wait === 0) send();
  else timer = setTimeout(send, wait);
}

// Sends a pending ack now; resolves when every ack sent so far has been answered.
export function flushRead() {
  if (pending) send();
  return inflight;
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && pending && !timer) send();
});
