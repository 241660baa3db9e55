// Approvals the agent asks for, as cards in its message: the command and why, a scope (once / this session / always:
// the approve route's `scope`), Approve and Deny. A card follows its approval's status (pending, approved, denied,
// expired) from the message's approvals and the approval.requested / approval.resolved events, so it shows the outcome
// also when another device decided. Untrusted text (command, description) only via textContent.
import { el } from './ui.js';

const SCOPES = { once: 'Once', session: 'This session', always: 'Always' };
const OUTCOME = { approved: 'Approved', denied: 'Denied', expired: 'Expired (no decision before the run ended)' };

function container(li) {
  let box = li.querySelector(':scope > .approvals');
  if (!box) {
    box = el('div', 'approvals');
    li.append(box);
  }
  return box;
}

// ctx: {client, convId}
function card(a, ctx) {
  const c = el('div', 'approval');
  c.dataset.id = a.id;
  c.setAttribute('role', 'group');
  c.setAttribute('aria-label', 'Approval request');
  c.append(el('div', 'approval-title', 'Approval needed'));
  c.append(el('code', 'approval-command'));
  c.append(el('div', 'approval-description'));
  const form = el('div', 'approval-actions');
  const label = el('label', 'approval-scope', 'Allow ');
  const select = el('select');
  const scopes = (Array.isArray(a.choices) ? a.choices : Object.keys(SCOPES)).filter((s) => SCOPES[s]);
  for (const s of scopes.length ? scopes : ['once']) {
    const o = el('option', '', SCOPES[s]);
    o.value = s;
    select.append(o);
  }
  label.append(select);
  const approve = el('button', 'approve', 'Approve');
  const deny = el('button', 'deny', 'Deny');
  approve.type = deny.type = 'button';
  const error = el('div', 'approval-error');
  error.setAttribute('role', 'alert');
  async function decide(yes) {
    approve.disabled = deny.disabled = select.disabled = true;
    error.textContent = '';
    try {
      const body = yes ? await ctx.client.approve(ctx.convId, a.id, select.value) : await ctx.client.deny(ctx.convId, a.id);
      if (body && body.approval) update(c, body.approval);
    } catch (e) {
      // someone else decided first: the approval.resolved event brings the outcome
      if (e.status !== 409) error.textContent = 'Could not send the decision: ' + e.message;
      approve.disabled = deny.disabled = select.disabled = false;
    }
  }
  approve.addEventListener('click', () => decide(true));
  deny.addEventListener('click', () => decide(false));
  const buttons = el('span', 'approval-buttons');
  buttons.append(deny, approve);
  form.append(label, buttons);
  c.append(form, el('div', 'approval-outcome'), error);
  return c;
}

function update(c, a) {
  c.querySelector('.approval-command').textContent = a.command || '';
  const d = c.querySelector('.approval-description');
  d.textContent = a.description || '';
  d.hidden = !a.description;
  const status = a.status || 'pending';
  c.dataset.status = status;
  const pending = status === 'pending';
  c.querySelector('.approval-actions').hidden = !pending;
  let outcome = OUTCOME[status] || status;
  if (status === 'approved' && SCOPES[a.decision]) outcome += ' (' + SCOPES[a.decision].toLowerCase() + ')';
  c.querySelector('.approval-outcome').textContent = pending ? '' : outcome;
}

// One approval (from an event or an answer) on message li: adds its card or updates it.
export function upsertApproval(li, a, ctx) {
  if (!a || typeof a.id !== 'string') return;
  const box = container(li);
  let c = Array.from(box.children).find((x) => x.dataset.id === a.id);
  if (!c) box.append((c = card(a, ctx)));
  update(c, a);
}

// The message's approvals list (message events and the messages page carry it whole).
export function setApprovals(li, m, ctx) {
  if (Array.isArray(m.approvals)) for (const a of m.approvals) upsertApproval(li, a, ctx);
}

// Whether an approval of this message waits for a decision.
export function awaitingApproval(li) {
  return !!li.querySelector(':scope > .approvals > .approval[data-status="pending"]');
}
