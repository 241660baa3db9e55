// The devices view: this user's paired devices (GET /api/v1/devices), "this device" marked, rename (PATCH label, 1–128
// characters), revoke another device (DELETE, after an in-page "Revoke? Yes / No") and sign this browser out (logout,
// which revokes this device, after the same kind of confirm). Labels and models are untrusted:
// textContent only. Errors are shown in the view with their code (device_label_required, device_label_invalid, …).
import { $, state, register, go, show, status, el, button } from './ui.js';

export function errorText(e) {
  return e.code && e.code !== e.message ? e.message + ' (' + e.code + ')' : e.message;
}

function when(iso) {
  if (!iso) return 'never';
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

function setError(li, text) {
  li.querySelector('.err').textContent = text || '';
}

function renameForm(li, d) {
  const form = el('form', 'rename');
  const input = el('input');
  input.value = d.label || '';
  input.maxLength = 200; // longer than allowed on purpose: the daemon's device_label_invalid is shown
  input.setAttribute('aria-label', 'Device name');
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      render();
    }
  });
  const save = el('button', '', 'Save');
  save.type = 'submit';
  form.append(input, save, button('Cancel', 'plain', () => render()));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    save.disabled = true;
    try {
      await state.client.renameDevice(d.id, input.value);
      await render();
    } catch (err) {
      setError(li, 'Could not rename: ' + errorText(err));
      save.disabled = false;
    }
  });
  li.querySelector('.actions').replaceWith(form);
  input.focus();
}

// Asks "<question> Yes / No" in place of the item's buttons; Yes runs act.
function confirmIn(li, question, act) {
  const box = el('div', 'actions confirm');
  box.append(el('span', '', question), button('Yes', 'danger', act), button('No', 'plain', () => render()));
  li.querySelector('.actions').replaceWith(box);
}

function confirmRevoke(li, d) {
  confirmIn(li, 'Revoke?', async () => {
    try {
      await state.client.revokeDevice(d.id);
      await render();
    } catch (err) {
      setError(li, 'Could not revoke: ' + errorText(err));
    }
  });
}

function confirmSignOut(li) {
  confirmIn(li, 'Sign out this browser?', async () => {
    await state.client.logout();
    go('signed-out', 'You signed out this browser: its device was revoked and its tokens were removed.');
  });
}

function deviceItem(d) {
  const li = el('li', 'device');
  li.dataset.id = d.id;
  li.dataset.status = d.status || 'active';
  if (d.current) li.dataset.current = 'true';
  const head = el('div', 'name');
  head.append(el('strong', 'label', d.label || 'Unnamed device'));
  if (d.current) head.append(el('span', 'badge', 'this device'));
  if (d.status === 'revoked') head.append(el('span', 'badge revoked', 'revoked'));
  const meta = el('div', 'meta kind', [d.platform, d.model].filter(Boolean).join(' · ')); // one line, whole on hover
  meta.title = meta.textContent;
  const seen = el('div', 'meta', d.status === 'revoked' ? 'Revoked ' + when(d.revoked_at) :
    'Last seen ' + when(d.last_seen_at) + ' · paired ' + when(d.paired_at || d.created_at));
  const actions = el('div', 'actions');
  if (d.status !== 'revoked') {
    actions.append(button('Rename', 'plain rename-btn', () => renameForm(li, d)));
    if (d.current) actions.append(button('Sign out', 'plain danger signout-btn', () => confirmSignOut(li)));
    else actions.append(button('Revoke', 'plain danger revoke-btn', () => confirmRevoke(li, d)));
  }
  li.append(head, meta, seen, actions, el('p', 'err'));
  li.querySelector('.err').setAttribute('role', 'alert');
  return li;
}

async function render() {
  const ul = $('devices');
  try {
    const body = await state.client.listDevices();
    ul.replaceChildren(...(body.devices || []).map(deviceItem));
    const s = body.summary;
    $('devices-summary').textContent = s ? s.active + ' active, ' + s.revoked + ' revoked' : '';
  } catch (e) {
    status('Could not load devices: ' + errorText(e));
  }
}

register('devices', async () => {
  show('devices-view');
  await render();
});
