// Read receipts: markRead(id) acks a conversation (read up to its last event, for this device) at most once a second and
// only while the page is visible (a hidden page acks when it is shown again); flushRead() sends a pending ack at once.
// readUpTo(id) is the last event seq an ack answered for (-1 when none): a summary whose last_event_seq is not past it has
// nothing unread, whatever its (possibly older) unread_count says. onAcked(fn) calls fn(conversation_id) after each ack.
import { state } from './ui.js';

const GAP = 1000;
let pending = null; // the conversation id waiting to be acked
let timer = null;
let last = 0;
const seqs = new Map();
const listeners = [];

function send() {
  clearTimeout(timer);
  timer = null;
  const id = pending;
  if (!id || !state.client || document.visibilityState !== 'visible') return;
  pending = null;
  last = Date.now();
  state.client.ack(id).then((b) => {
    if (b && typeof b.last_event_seq === 'number') seqs.set(id, Math.max(b.last_event_seq, seqs.get(id) ?? -1));
    for (const fn of listeners) fn(id);
  }, () => {});
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

// Sends a pending ack now.
export function flushRead() {
  if (pending) send();
}

export const readUpTo = (id) => seqs.get(id) ?? -1;

export function onAcked(fn) {
  listeners.push(fn);
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && pending && !timer) send();
});
