// One conversation: its messages, the composer and the live event stream (resumed from the last event seen).
// Untrusted text (messages, the agent's output) is only ever set with textContent.
import { $, state, register, onLeave, go, show, status } from './ui.js';
import { follow } from './sse.js';
import { markRead } from './ack.js';
import { showPickers } from './pickers.js';

let current = null; // {id, stream, messages: Map(id -> li)}

function messageText(m) {
  return (m.parts || []).filter((p) => typeof p.text === 'string').map((p) => p.text).join('');
}

function renderMessage(m) {
  if (!current || (m.conversation_id && m.conversation_id !== current.id)) return;
  let li = current.messages.get(m.id);
  if (!li) {
    li = document.createElement('li');
    li.dataset.id = m.id;
    const body = document.createElement('div');
    body.className = 'text';
    li.append(body);
    current.messages.set(m.id, li);
    $('messages').append(li);
  }
  li.className = 'msg ' + (m.role || 'assistant');
  li.dataset.status = m.status || '';
  li.firstChild.textContent = messageText(m);
  li.scrollIntoView({ block: 'end' });
}

function leave() {
  if (current && current.stream) current.stream.stop();
  current = null;
}

async function openConversation(c) {
  const client = state.client;
  show('conv-view');
  $('conv-title').textContent = c.title || 'Untitled';
  $('messages').replaceChildren();
  current = { id: c.id, stream: null, messages: new Map() };
  onLeave(leave);
  const mine = current;
  let after = null; // the conversation's last event seq when its messages were read: the stream replays what follows
  try {
    const body = await client.messages(c.id);
    if (current !== mine) return;
    for (const m of body.messages || []) renderMessage(m);
    after = body.last_event_seq ?? null;
    markRead(c.id);
    showPickers(c, body.runtime);
  } catch (e) {
    status('Could not load messages: ' + e.message);
  }
  if (current !== mine) return;
  mine.stream = follow(
    (lastId) => client.eventsUrl(c.id, lastId !== null ? lastId : after),
    async (stale) => {
      if (stale) await client.refresh();
      return client.headers();
    },
    (ev) => {
      if (current !== mine) return;
      markRead(mine.id); // what arrives while the conversation is open is read (throttled; only while visible)
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch {
        return;
      }
      const m = data && data.payload && data.payload.message;
      if (m && m.id) renderMessage(m);
    },
    (s) => status(s === 'live' ? 'Signed in' : 'Reconnecting…'),
  );
  $('input').focus();
}

register('conversation', openConversation);

$('back').addEventListener('click', () => go('list'));

$('composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('input').value;
  if (!text.trim() || !current) return;
  $('send').disabled = true;
  try {
    await state.client.send(current.id, text);
    $('input').value = '';
  } catch (err) {
    status('Could not send: ' + err.message);
  } finally {
    $('send').disabled = false;
  }
});

$('input').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
});
