// One conversation: its messages, the composer and the live event stream (resumed from the last event seen).
// Untrusted text (messages, the agent's output) is only ever set with textContent or as safe Markdown (markdown.js).
import { $, state, register, onLeave, go, show, status } from './ui.js';
import { follow } from './sse.js';
import { setAgentEvents, addToolEvent } from './activity.js';
import { setApprovals, upsertApproval } from './approvals.js';
import { renderAttachments, openTray, leave as leaveTray, hasAttachments, uploadedBlobIds, clearTray } from './attachments.js';
import { openRun, leaveRun, updateRun } from './runbar.js';
import { renderMarkdown } from './markdown.js';
import { markRead } from './ack.js';
import { showPickers } from './pickers.js';

let current = null; // {id, stream, messages: Map(id -> li)}

function messageText(m) {
  return (m.parts || []).filter((p) => typeof p.text === 'string').map((p) => p.text).join('');
}

function renderMessage(m) {
  if (!current || (m.conversation_id && m.conversation_id !== current.id)) return;
  let li = current.messages.get(m.id);
  const box = $('messages'); // follow the end only when the message is new or the reader is already at the end
  const stick = !li || box.scrollHeight - box.scrollTop - box.clientHeight < 64;
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
  const text = messageText(m);
  if (li.shownText !== text) li.firstChild.replaceChildren(renderMarkdown(text)); // safe Markdown: DOM nodes only
  li.shownText = text;
  decorate(li, m);
  if (stick) li.scrollIntoView({ block: 'end' });
}

// What a message shows besides its text (each in its own module, after the .text element): attachments, the agent's
// tool activity and approvals; then the run's status line and Stop button follow the messages.
function decorate(li, m) {
  li.hlMessage = m;
  renderAttachments(li, m);
  if (m.role === 'assistant') {
    setAgentEvents(li, m);
    setApprovals(li, m, { client: state.client, convId: current.id });
  }
  updateRun();
}

// Events about a message other than the message itself: tool.started / tool.completed, approval.requested / resolved.
function agentEvent(type, data) {
  const li = current && data && data.message_id ? current.messages.get(data.message_id) : null;
  const p = (data && data.payload) || {};
  if (!li) return;
  if (type === 'tool.started' || type === 'tool.completed') addToolEvent(li, type, p);
  else if (type === 'approval.requested' || type === 'approval.resolved') upsertApproval(li, p.approval, { client: state.client, convId: current.id });
  else return;
  updateRun();
}

function leave() {
  if (current && current.stream) current.stream.stop();
  leaveTray();
  leaveRun();
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
  openTray(c.id);
  openRun(c.id, () => (current === mine ? Array.from(mine.messages.values()) : []));
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
      else agentEvent(ev.event !== 'message' ? ev.event : data.type, data);
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
  if (!current || (!text.trim() && !hasAttachments()) || $('send').disabled) return; // (Enter while a send is under way)
  $('send').disabled = true;
  try {
    const blobs = await uploadedBlobIds();
    await state.client.send(current.id, text, blobs);
    $('input').value = '';
    clearTray();
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
