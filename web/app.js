// The HermesLink web client's entry point: pairing from the URL fragment (#session=…&code=…, cleared at once), the
// stored tokens, the signed-out state (also reached when the device is revoked: the session watch's stream ends, the
// refresh is refused), the header's tabs, the service worker, then the conversation list. The views live in their
// own modules.
import { claim, loadTokens, clearTokens, Client } from './api.js';
import { $, state, register, go, show, status } from './ui.js';
import { watchSession, stopWatch } from './session.js';
import './list.js';
import './conversation.js';
import './devices.js';
import './profile.js';
import './keys.js';

const REVOKED = 'This browser was signed out: its device was revoked (or its session ended) and its tokens were removed.';

function signedOut() {
  go('signed-out', REVOKED);
}

register('signed-out', (why) => {
  stopWatch();
  if (state.client) {
    state.client.close();
    clearTokens().catch(() => {});
  }
  state.client = null;
  delete document.body.dataset.signedIn;
  $('signed-out-why').textContent = why || 'This browser is not paired.';
  status(why ? 'Signed out' : 'Not paired');
  show('signed-out');
});

$('tab-list').addEventListener('click', () => go('list'));
$('tab-devices').addEventListener('click', () => go('devices'));
$('tab-profile').addEventListener('click', () => go('profile'));

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
  let failure = null;
  if (session && code) {
    status('Pairing…');
    try {
      tokens = await claim(session, code);
    } catch (e) {
      failure = 'Pairing failed: ' + e.message;
    }
  }
  if (!tokens) tokens = await loadTokens().catch(() => null);
  if (!tokens || !tokens.refresh_token) {
    go('signed-out', failure);
    return;
  }
  state.client = new Client(tokens, signedOut);
  status('Signed in');
  document.body.dataset.signedIn = 'true';
  watchSession(state.client);
  await go('list');
}

// The shell works offline once loaded (web/sw.js; never /api/). Service workers need a secure context: HTTPS, or plain
// HTTP to the loopback address or localhost.
if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('/app/sw.js', { scope: '/app' }).catch((e) => console.warn('service worker: ' + e.message));
}

start().catch((e) => status('Error: ' + e.message));
