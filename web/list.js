// The conversation list: what the client shows once signed in. Pages come with the API's cursors and load as the end of
// the list scrolls into view (never a conversation twice); a search box (debounced) lists search results the same way;
// a toggle shows the archived ones; each row has an actions menu (rename, archive / unarchive, delete with an in-page
// confirm) and this device's unread count. While the list is shown the all-conversations event stream keeps it
// current. Titles, previews and profile names are untrusted: only ever set with textContent.
import { $, state, register, onLeave, go, show, status, el, button } from './ui.js';
import { follow } from './sse.js';
import { flushRead, readUpTo, onAcked } from './ack.js';
import { fillProfiles } from './pickers.js';

const ul = $('conversations');
const sentinel = document.createElement('li');
sentinel.className = 'sentinel';
const view = { archived: false, query: '' };
let pager = null; // {cursor, more, loading, items: Map(id -> {c, li})}
let live = null; // the event stream while the list is shown
let refreshTimer = null;

const observer = new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting)) loadMore();
}, { root: ul, rootMargin: '0px 0px 300px 0px' });

// newest first, as the server pages them: updated_at then id, both descending
function newer(a, b) {
  if (a.updated_at !== b.updated_at) return a.updated_at > b.updated_at ? -1 : 1;
  return a.id > b.id ? -1 : a.id < b.id ? 1 : 0;
}

function fill(item) {
  const { c, li } = item;
  li.querySelector('.title').textContent = c.title || 'Untitled';
  const preview = c.last_message && c.last_message.content_preview;
  const profile = c.profile && c.profile.name && c.profile.name !== 'default' ? c.profile.name : '';
  li.querySelector('.meta').textContent = [profile, preview || ''].filter(Boolean).join(' · ');
  const n = c.last_event_seq <= readUpTo(c.id) ? 0 : c.unread_count || 0; // an ack answered after this summary was read
  const badge = li.querySelector('.badge');
  badge.textContent = n > 99 ? '99+' : String(n);
  badge.hidden = n === 0;
  badge.setAttribute('aria-label', n + ' unread');
  li.dataset.unread = String(n);
}

const shownUnread = (item) => Number(item.li.dataset.unread) || 0;

function row(c) {
  const li = el('li', 'row');
  li.dataset.id = c.id;
  const open = button('', 'conv', () => go('conversation', item.c));
  open.dataset.id = c.id;
  const text = el('span', 'text');
  text.append(el('span', 'title'), el('span', 'meta'));
  open.append(text, el('span', 'badge'));
  const actions = el('div', 'actions');
  actions.hidden = true;
  const more = button('⋯', 'more', () => {
    const opening = actions.hidden;
    closeMenus();
    if (opening) menu(item);
  });
  more.setAttribute('aria-label', 'Actions');
  more.setAttribute('aria-expanded', 'false');
  li.append(open, more, actions);
  const item = { c, li };
  fill(item);
  return item;
}

function closeMenus() {
  for (const a of ul.querySelectorAll('.actions:not([hidden])')) {
    a.hidden = true;
    a.replaceChildren();
    a.parentNode.querySelector('.more').setAttribute('aria-expanded', 'false');
  }
}

// the row's actions: rename, archive or unarchive, delete (each confirmed or edited in place)
function menu(item) {
  const actions = item.li.querySelector('.actions');
  actions.hidden = false;
  item.li.querySelector('.more').setAttribute('aria-expanded', 'true');
  const c = item.c;
  const archived = c.status === 'archived' || view.archived;
  actions.replaceChildren(
    ...(archived ? [] : [button('Rename', 'rename', () => renameForm(item))]),
    button(archived ? 'Unarchive' : 'Archive', 'archive', () =>
      act(item, () => state.client.archive(c.id, !archived), archived ? 'Unarchived' : 'Archived')),
    button('Delete', 'delete', () => {
      actions.replaceChildren(
        el('span', 'ask', 'Delete?'),
        button('Yes', 'yes danger', () => act(item, () => state.client.deleteConversation(c.id), 'Deleted')),
        button('No', 'no', closeMenus),
      );
    }),
  );
}

// runs an action that takes the conversation out of this list
async function act(item, call, done) {
  try {
    await call();
    remove(item.c.id);
    status(done);
  } catch (e) {
    status('Could not change the conversation: ' + e.message);
    closeMenus();
  }
}

function renameForm(item) {
  const actions = item.li.querySelector('.actions');
  const form = el('form', 'rename-form');
  const input = el('input');
  input.value = item.c.title || '';
  input.required = true;
  input.maxLength = 200;
  input.setAttribute('aria-label', 'Title');
  const save = el('button', null, 'Save');
  save.type = 'submit';
  form.append(input, save, button('Cancel', 'no', closeMenus));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const title = input.value.trim();
    if (!title) return;
    try {
      const b = await state.client.rename(item.c.id, title);
      item.c = Object.assign({}, item.c, b.conversation || { title }, { unread_count: shownUnread(item) });
      fill(item);
      closeMenus();
      place();
      status('Renamed');
    } catch (err) {
      status('Could not rename: ' + err.message);
    }
  });
  actions.replaceChildren(form);
  input.focus();
}

function remove(id) {
  const item = pager && pager.items.get(id);
  if (!item) return;
  pager.items.delete(id);
  item.li.remove();
  empty();
}

// puts the rows in order (newest first), the sentinel last
function place() {
  const rows = [...pager.items.values()].sort((a, b) => newer(a.c, b.c));
  let at = ul.firstElementChild;
  for (const { li } of rows) {
    // only rows out of order move (a moved node loses focus, e.g. a rename being typed)
    if (li === at) at = at.nextElementSibling;
    else ul.insertBefore(li, at);
  }
  if (ul.lastElementChild !== sentinel) ul.append(sentinel);
}

function empty() {
  if (!pager) return;
  sentinel.textContent = pager.loading ? 'Loading…' : pager.more ? '' : pager.items.size ? '' :
    view.query ? 'Nothing found.' : view.archived ? 'No archived conversations.' : 'No conversations yet.';
  sentinel.classList.toggle('empty', !pager.loading && !pager.more && pager.items.size === 0);
}

// merges a page of summaries: a conversation already listed is updated, never added twice
function merge(list) {
  for (const c of list || []) {
    if (!c || !c.id) continue;
    const item = pager.items.get(c.id);
    if (item) {
      item.c = c;
      fill(item);
    } else {
      pager.items.set(c.id, row(c));
    }
  }
  place();
}

async function loadMore() {
  const p = pager;
  if (!p || p.loading || !p.more) return;
  p.loading = true;
  empty();
  try {
    const b = await state.client.listConversations({ archived: view.archived, query: view.query, cursor: p.cursor });
    if (pager !== p) return;
    if (p.stale) ul.replaceChildren(sentinel); // the rows shown before the restart go when the first page is here
    p.stale = false;
    merge(b.conversations);
    const page = b.page || {};
    p.cursor = page.next_cursor || null;
    p.more = !!(page.has_more && p.cursor);
  } catch (e) {
    if (pager !== p) return;
    if (p.stale) ul.replaceChildren(sentinel);
    p.stale = false;
    p.more = false;
    status(e.status === 400 ? 'Search: ' + e.message : 'Could not load conversations: ' + e.message);
  } finally {
    if (pager === p) {
      p.loading = false;
      empty();
      // observe again: the sentinel may still be in view after a short page (that fires no new intersection)
      observer.unobserve(sentinel);
      if (p.more) observer.observe(sentinel);
    }
  }
}

// starts the list over from the top (with the current search, archived toggle); what was shown stays until the first
// page replaces it
function restart() {
  observer.unobserve(sentinel);
  closeMenus();
  pager = { cursor: null, more: true, loading: false, items: new Map(), stale: true };
  if (ul.lastElementChild !== sentinel) ul.append(sentinel);
  return loadMore();
}

// the first page again, merged (authoritative unread counts and order after live events)
function refreshTop() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    const p = pager;
    if (!p || view.query || view.archived) return;
    try {
      const b = await state.client.listConversations({});
      if (pager === p && !view.query && !view.archived) merge(b.conversations);
    } catch {
      // the next event or visit refreshes it
    }
  }, 300);
}

function onEvent(ev) {
  let e;
  try {
    e = JSON.parse(ev.data);
  } catch {
    return;
  }
  if (!e || !pager || !e.conversation_id) return;
  const item = pager.items.get(e.conversation_id);
  if (e.type === 'conversation.deleted') return remove(e.conversation_id);
  if (view.query || view.archived) return;
  if (e.type === 'message.created' && item) {
    // at once here; the refresh below brings the server's own count
    item.c = Object.assign({}, item.c, {
      unread_count: shownUnread(item) + 1,
      updated_at: e.created_at || item.c.updated_at,
      last_event_seq: Math.max(item.c.last_event_seq || 0, e.seq || 0),
    });
    fill(item);
    place();
  } else if ((e.type === 'conversation.created' || e.type === 'conversation.updated') && e.payload && e.payload.conversation) {
    const c = Object.assign({}, e.payload.conversation);
    c.unread_count = item ? shownUnread(item) : 0; // the payload's count is the acting device's
    merge([c]);
  }
  refreshTop();
}

function startLive() {
  const client = state.client;
  const mine = follow(
    (lastId) => client.allEventsUrl(lastId),
    async (stale) => {
      if (stale) await client.refresh();
      return client.headers();
    },
    (ev) => {
      if (live === mine) onEvent(ev);
    },
    (s) => {
      if (live === mine) status(s === 'live' ? 'Signed in' : 'Reconnecting…');
    },
  );
  live = mine;
}

function leave() {
  if (live) live.stop();
  live = null;
  clearTimeout(refreshTimer);
  observer.unobserve(sentinel);
  pager = null;
}

async function showList() {
  show('list-view');
  onLeave(leave);
  fillProfiles($('new-profile'), $('new-profile').value).then((names) => {
    $('new-profile').hidden = names.length < 2;
  });
  flushRead(); // the conversation just left is read: its row says so once the ack is answered (onAcked below)
  startLive();
  await restart();
}

register('list', showList);

onAcked((id) => {
  const item = pager && pager.items.get(id);
  if (item) fill(item);
});

$('new-conv').addEventListener('click', async () => {
  try {
    const profile = $('new-profile').value;
    const body = await state.client.createConversation(undefined, profile && profile !== 'default' ? profile : undefined);
    await go('conversation', body.conversation);
  } catch (e) {
    status('Could not create a conversation: ' + e.message);
  }
});

let searchTimer = null;
$('search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    const q = $('search').value.trim();
    if (q === view.query || !pager) return;
    if ([...q].length > 256) return status('The search is limited to 256 characters');
    view.query = q;
    restart();
  }, 250);
});

$('show-archived').addEventListener('click', () => {
  view.archived = !view.archived;
  $('show-archived').setAttribute('aria-pressed', String(view.archived));
  $('show-archived').textContent = view.archived ? 'Active' : 'Archived';
  $('new-conv').hidden = view.archived;
  if (pager) restart();
});

// back to a page that was hidden: its counts may have changed meanwhile
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && pager) refreshTop();
});

document.addEventListener('click', (e) => {
  // a click that replaced its own button (rename, delete) is inside the menu still
  if (pager && e.target.isConnected && !e.target.closest('#conversations .row')) closeMenus();
});
