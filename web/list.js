// The conversation list: what the client shows once signed in. Titles are untrusted and only set with textContent.
import { $, state, register, go, show, status } from './ui.js';

async function showList() {
  show('list-view');
  const ul = $('conversations');
  try {
    const body = await state.client.listConversations();
    ul.replaceChildren();
    for (const c of body.conversations || []) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'conv';
      b.dataset.id = c.id;
      b.textContent = c.title || 'Untitled';
      b.addEventListener('click', () => go('conversation', c));
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

register('list', showList);

$('new-conv').addEventListener('click', async () => {
  try {
    const body = await state.client.createConversation();
    await go('conversation', body.conversation);
  } catch (e) {
    status('Could not create a conversation: ' + e.message);
  }
});
