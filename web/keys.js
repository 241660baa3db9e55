// Keyboard shortcuts (signed in only): `/` search (when the list has #search), `n` new conversation, Escape back to the
// list (or closes the help), Ctrl/Cmd+Enter sends, `?` shows the help (#keys-help). Letters and `/` `?` never fire while
// typing in a field; Escape and Ctrl/Cmd+Enter do.
import { $, state, go } from './ui.js';

function typing(t) {
  if (!t) return false;
  if (t.tagName === 'INPUT') return !/^(checkbox|radio|button|submit|reset)$/.test(t.type);
  return t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT';
}

function toggleHelp(open) {
  const help = $('keys-help');
  help.hidden = open === undefined ? !help.hidden : !open;
}

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || !state.client) return;
  const view = document.body.dataset.view;
  if (e.key === 'Escape') {
    if (!$('keys-help').hidden) toggleHelp(false);
    else if (view !== 'list-view') go('list');
    else return;
    e.preventDefault();
    return;
  }
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    if (view === 'conv-view') { // the composer decides whether there is anything to send
      e.preventDefault();
      $('composer').requestSubmit();
    }
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
  if (e.key === '?') {
    toggleHelp();
  } else if (e.key === 'n') {
    $('new-conv').click();
  } else if (e.key === '/') {
    const search = $('search');
    if (!search) return;
    if (view !== 'list-view') go('list');
    search.focus();
  } else {
    return;
  }
  e.preventDefault();
});

$('keys-help').addEventListener('click', () => toggleHelp(false));
