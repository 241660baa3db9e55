// Profile and model pickers (<select>s; names are untrusted and only set as text). profileNames() lists "default" and
// the Hermes profiles; fillProfiles(select, current) fills a profile picker; showPickers(conv, runtime) puts a profile
// and a model picker in the open conversation's header bar, changing its profile / model override through the API.
import { $, state, status } from './ui.js';

let profilesCache = null;

// Resolves ['default', …the profiles' names] (asked once per page load; ['default'] when the route fails).
export function profileNames() {
  if (!profilesCache) {
    profilesCache = state.client.profiles().then(
      (b) => ['default', ...(b.profiles || []).filter((n) => typeof n === 'string' && n !== 'default')],
      () => {
        profilesCache = null;
        return ['default'];
      },
    );
  }
  return profilesCache;
}

// Replaces select's options with values (text and value alike), selecting current; a current value not among them is
// added, or with a placeholder, the placeholder (value '') is shown first and selected.
function options(select, values, current, placeholder) {
  select.replaceChildren();
  const known = values.includes(current);
  if (!known && placeholder !== undefined) select.append(new Option(placeholder, ''));
  for (const v of values) select.append(new Option(v, v)); // Option(text, value) sets text, never markup
  if (!known && placeholder === undefined && current) select.append(new Option(current, current));
  select.value = known || placeholder === undefined ? current || values[0] || '' : '';
}

// Fills select with the profile names, current (default "default") selected. Resolves the names.
export async function fillProfiles(select, current) {
  const names = await profileNames();
  options(select, names, current || 'default');
  return names;
}

let modelFill = 0; // the latest fill wins (a slow answer for the previous profile must not overwrite it)

async function fillModels(select, profile, current, mine) {
  const seq = ++modelFill;
  let ids = [];
  try {
    const b = await state.client.models(profile === 'default' ? '' : profile);
    const list = (b && (b.data || b.models)) || [];
    ids = list.map((m) => (typeof m === 'string' ? m : m && m.id)).filter((id) => typeof id === 'string');
  } catch {
    // no upstream: only the current model (if any) is offered
  }
  if (shown !== mine || seq !== modelFill) return;
  if (current && current !== 'unknown' && !ids.includes(current)) ids.unshift(current);
  options(select, ids, current && current !== 'unknown' ? current : '', 'Model');
  select.disabled = ids.length === 0;
}

function picker(id, label) {
  let s = $(id);
  if (!s) {
    s = document.createElement('select');
    s.id = id;
    s.setAttribute('aria-label', label);
  }
  return s;
}

let shown = null; // the conversation the pickers act on

// Shows the pickers for conversation conv (a summary) in #conv-view's bar; runtime is the messages route's runtime.
export function showPickers(conv, runtime) {
  const bar = document.querySelector('#conv-view .bar');
  if (!bar || !state.client) return;
  let box = $('conv-pickers');
  if (!box) {
    box = document.createElement('span');
    box.id = 'conv-pickers';
    box.append(picker('conv-profile', 'Profile'), picker('conv-model', 'Model'));
    bar.append(box);
    $('conv-profile').addEventListener('change', onProfile);
    $('conv-model').addEventListener('change', onModel);
  }
  const profile = (runtime && runtime.profile && runtime.profile.name) || (conv.profile && conv.profile.name) || 'default';
  const model = runtime && runtime.model && runtime.model.id;
  shown = { id: conv.id, profile, model };
  const mine = shown;
  profileNames().then((names) => {
    if (shown === mine) options($('conv-profile'), names, mine.profile);
  });
  fillModels($('conv-model'), profile, model, mine);
}

async function onProfile(e) {
  const mine = shown;
  if (!mine) return;
  const value = e.target.value;
  try {
    const b = await state.client.setProfile(mine.id, value);
    mine.profile = value;
    status('Profile: ' + value);
    if (shown === mine) fillModels($('conv-model'), value, b.runtime && b.runtime.model && b.runtime.model.id, mine);
  } catch (err) {
    status('Could not change the profile: ' + err.message);
    if (shown === mine) e.target.value = mine.profile;
  }
}

async function onModel(e) {
  const mine = shown;
  const value = e.target.value;
  if (!mine || !value) return;
  try {
    await state.client.setModel(mine.id, value);
    mine.model = value;
    status('Model: ' + value);
  } catch (err) {
    status('Could not change the model: ' + err.message);
    if (shown === mine) e.target.value = mine.model || '';
  }
}
