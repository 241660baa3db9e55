// The HermesLink web client's entry point: pairing from the URL fragment (#session=…&code=…, cleared at once), the
// stored tokens, the signed-out state, then the conversation list. The views live in their own modules.
import { claim, loadTokens, Client } from './api.js';
import { state, register, go, show, status } from './ui.js';
import './list.js';
import './conversation.js';

function signedOut() {
  go('signed-out');
}

register('signed-out', (why) => {
  state.client = null;
  delete document.body.dataset.signedIn;
  status(why || 'Signed out');
  show('signed-out');
});

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
  await go('list');
}

start().catch((e) => status('Error: ' + e.message));
