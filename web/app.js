// The HermesLink web client: pairing from the URL fragment, conversations, messages and the streamed answer.
// Untrusted text (titles, messages, the agent's output) is only ever set with textContent.
import { claim, loadTokens, clearTokens, Client } from './api.js';
import { follow } from './sse.js';

const $ = (id) => document.getElementById(id);
let client = null;
let current = null; // {id, stream, messages: Map(id -> li)}

function show(view) {
  for (const v of ['signed-out', 'list-view', 'conv-view']) $(v).hidden = v !== view;
  document.body.dataset.view = view;
}

function status(text) {
  $('status').textContent = text;
}

function signedOut() {
  if (current && current.stream) current.stream.stop();
  current = null;
  client = null;
  status('Signed out');
  show('signed-out');
}

function fragmentParams() {
  const h = location.hash.startsWith('#') ? location.hash.slice(1) : '';
  const p = new URLSearchParams(h);
  return { session: p.get('session'), code: p.get('code') };
}

async function start() {
  const { session, code } = fragmentParams();
  // the claim code never stays in the address bar or the history
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  let tokens = null;
  if (session && code) {
    status('Pairing…');
    try {
      tokens = await claim(session, code);
    } catch (e) {
      status('Pairing failed: ' + e.message);
    }
  }
  if (!tokens) tokens = await loadTokens().catch(() => null);
  if (!tokens || !tokens.refresh_token) {
    signedOut();
    return;
  }
  client = new Client(tokens, signedOut);
  status('Signed in');
  document.body.dataset.signedIn = 'true';
  await showList();
}

async function showList() {
  if (current && current.stream) current.stream.stop();
  current = null;
  show('list-view');
  const ul = $('conversations');
  try {
    const body = await client.listConversations();
    ul.replaceChildren();
    for (const c of body.conversations || []) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'conv';
      b.dataset.id = c.id;
      b.textContent = c.title || 'Untitled';
      b.addEventListener('click', () => openConversation(c));
      li.append(b);
      ul.append(li);
    }
    if (!ul.children.length) {
      const li = document.createElement('li');
      li.className = 'empty';
      li.textContent = 'No conversations yet.';
      ul.append(li);
    }
  } catch (e) {
    status('Could not load conversations: ' + e.message);
  }
}

function messageText(m) {
  return (m.parts || []).filter((p) => typeof p.text === 'string').map((p) => p.text).join('');
}

function renderMessage(m) {
  if (!current || m.conversation_id && m.conversation_id !== current.id) return;
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

async function openConversation(c) {
  show('conv-view');
  $('conv-title').textContent = c.title || 'Untitled';
  $('messages').replaceChildren();
  current = { id: c.id, stream: null, messages: new Map() };
  const mine = current;
  let after = null; // the conversation's last event seq when its messages were read: the stream replays what follows
  try {
    const body = await client.messages(c.id);
    if (current !== mine) return;
    for (const m of body.messages || []) renderMessage(m);
    after = body.last_event_seq ?? null;
  } catch (e) {
    status('Could not load messages: ' + e.message);
  }
  mine.stream = follow(
    (lastId) => client.eventsUrl(c.id, lastId !== null ? lastId : after),
    async (stale) => {
      if (stale) await client.refresh();
      return client.headers();
    },
    (ev) => {
      if (current !== mine) return;
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

$('new-conv').addEventListener('click', async () => {
  try {
    const body = await client.createConversation();
    await openConversation(body.conversation);
  } catch (e) {
    status('Could not create a conversation: ' + e.message);
  }
});

$('back').addEventListener('click', () => showList());

$('composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('input').value;
  if (!text.trim() || !current) return;
  $('send').disabled = true;
  try {
    await client.send(current.id, text);
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

start().catch((e) => status('Error: ' + e.message));
