// The open conversation's run, while one is active (its assistant message queued or streaming): a status line
// ("Thinking… 12 s", the tool running, waiting for an approval) under the messages, and Stop in place of Send, which
// cancels the run (POST …/runs/:runId/cancel; the message then ends cancelled).
import { $, state } from './ui.js';
import { runningTool } from './activity.js';
import { awaitingApproval } from './approvals.js';

const ACTIVE = new Set(['queued', 'streaming', 'running']);
let timer = null;
let convId = null;
let active = null; // the li of the active assistant message
let lis = () => []; // the open conversation's message elements
let stopping = null; // the run a Stop was sent for

function startedAt(m) {
  const t = Date.parse(m.created_at || '');
  const now = Date.now();
  return Number.isFinite(t) && t <= now && now - t < 864e5 ? t : now;
}

function elapsed(since) {
  const s = Math.max(0, Math.floor((Date.now() - since) / 1000));
  return s < 60 ? s + ' s' : Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
}

function paint() {
  const line = $('run-status');
  if (!active) {
    line.hidden = true;
    line.textContent = '';
    return;
  }
  const m = active.hlMessage || {};
  if (!active.hlSince) active.hlSince = startedAt(m);
  const tool = runningTool(active);
  let what;
  if (awaitingApproval(active)) what = 'Waiting for your approval…';
  else if (m.status === 'queued') what = 'Queued…';
  else if (tool) what = 'Running ' + tool + '…';
  else if (active.querySelector('.text') && active.querySelector('.text').textContent) what = 'Writing…';
  else what = 'Thinking…';
  line.dataset.state = what.replace(/[^a-z]/gi, '').toLowerCase();
  line.textContent = what + ' ' + elapsed(active.hlSince);
  line.hidden = false;
}

// Re-reads which run is active after any change to the messages.
export function updateRun() {
  const runs = lis().filter((li) => li.classList.contains('assistant') && ACTIVE.has(li.dataset.status) && li.hlMessage && li.hlMessage.run_id);
  active = runs.find((li) => li.dataset.status !== 'queued') || runs[0] || null;
  $('send').hidden = !!active;
  $('stop').hidden = !active;
  $('stop').disabled = !!active && active.hlMessage.run_id === stopping;
  paint();
  if (active && !timer) timer = setInterval(paint, 1000);
  if (!active && timer) {
    clearInterval(timer);
    timer = null;
  }
}

// A conversation opened: id and how to list its message elements.
export function openRun(id, list) {
  convId = id;
  lis = list;
  updateRun();
}

export function leaveRun() {
  convId = null;
  lis = () => [];
  updateRun();
}

$('stop').addEventListener('click', async () => {
  if (!active || !convId) return;
  const stop = $('stop');
  stop.disabled = true;
  stopping = active.hlMessage.run_id;
  try {
    await state.client.cancelRun(convId, active.hlMessage.run_id);
  } catch (e) {
    stopping = null;
    stop.disabled = false;
    $('run-status').textContent = 'Could not stop: ' + e.message;
  }
});
