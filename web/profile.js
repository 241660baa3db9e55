// The profile view: pick a profile ('default', the Hermes home, then GET /api/v1/profiles), see its memory (USER.md and
// MEMORY.md entries: add one, remove one) and its skills (enable / disable). Entries and skill texts are untrusted:
// textContent only. Errors show in the view with their code (memory_limit_exceeded, 503 memory_busy, …).
import { $, state, register, show, el } from './ui.js';
import { errorText } from './devices.js';

const LABELS = { user: 'About you (USER.md)', memory: 'Agent notes (MEMORY.md)' };
let profile = 'default';

function renderMemory(view) {
  const box = $('memory-stores');
  box.replaceChildren();
  for (const s of view.stores || []) {
    const div = el('div', 'store');
    div.dataset.target = s.target;
    const u = s.usage || {};
    div.append(el('h4', '', LABELS[s.target] || s.fileName), el('span', 'meta', (u.chars ?? 0) + ' / ' + (u.limit ?? '?') + ' characters'));
    const ul = el('ul', 'entries');
    for (const entry of s.entries || []) {
      const li = el('li', 'entry');
      li.append(el('span', 'text', entry.content));
      const rm = el('button', 'plain danger', 'Remove');
      rm.type = 'button';
      rm.setAttribute('aria-label', 'Remove entry');
      rm.addEventListener('click', () => change(() => state.client.removeMemory(profile, s.target, entry.content), 'remove'));
      li.append(rm);
      ul.append(li);
    }
    if (!ul.children.length) ul.append(el('li', 'empty', 'No entries.'));
    div.append(ul);
    box.append(div);
  }
}

async function change(fn, what) {
  $('memory-error').textContent = '';
  try {
    renderMemory(await fn());
    return true;
  } catch (e) {
    $('memory-error').textContent = 'Could not ' + what + ': ' + errorText(e);
    return false;
  }
}

function renderSkills(body) {
  const ul = $('skills');
  ul.replaceChildren();
  for (const s of body.skills || []) {
    const li = el('li', 'skill');
    li.dataset.name = s.name;
    const label = el('label');
    const box = el('input');
    box.type = 'checkbox';
    box.checked = !!s.enabled;
    box.addEventListener('change', async () => {
      $('skills-error').textContent = '';
      box.disabled = true;
      try {
        renderSkills(await state.client.setSkill(profile, s.name, box.checked));
      } catch (e) {
        box.checked = !box.checked;
        box.disabled = false;
        $('skills-error').textContent = 'Could not change ' + s.name + ': ' + errorText(e);
      }
    });
    label.append(box, el('strong', '', s.name));
    li.append(label);
    if (s.description) li.append(el('div', 'meta', s.description));
    ul.append(li);
  }
  if (!ul.children.length) ul.append(el('li', 'empty', 'No skills installed.'));
}

async function load() {
  $('memory-error').textContent = '';
  $('skills-error').textContent = '';
  const mine = profile;
  const [memory, skills] = await Promise.allSettled([state.client.memory(mine), state.client.skills(mine)]);
  if (mine !== profile) return;
  if (memory.status === 'fulfilled') renderMemory(memory.value);
  else {
    $('memory-stores').replaceChildren();
    $('memory-error').textContent = 'Could not load memory: ' + errorText(memory.reason);
  }
  if (skills.status === 'fulfilled') renderSkills(skills.value);
  else {
    $('skills').replaceChildren();
    $('skills-error').textContent = 'Could not load skills: ' + errorText(skills.reason);
  }
}

register('profile', async () => {
  show('profile-view');
  const pick = $('profile-pick');
  let names = [];
  try {
    names = (await state.client.listProfiles()).profiles || [];
  } catch (e) {
    $('memory-error').textContent = 'Could not list profiles: ' + errorText(e);
  }
  pick.replaceChildren(...['default', ...names.filter((n) => n !== 'default')].map((n) => {
    const o = el('option', '', n);
    o.value = n;
    return o;
  }));
  if (![...pick.options].some((o) => o.value === profile)) profile = 'default';
  pick.value = profile;
  await load();
});

$('profile-pick').addEventListener('change', () => {
  profile = $('profile-pick').value;
  load();
});

$('memory-add').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('memory-text');
  const btn = $('memory-add').querySelector('button');
  btn.disabled = true;
  if (await change(() => state.client.addMemory(profile, $('memory-target').value, text.value), 'add')) text.value = '';
  btn.disabled = false;
});
