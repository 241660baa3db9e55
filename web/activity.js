// What the agent did while answering, shown in its message: one compact row per tool call (name, preview, duration,
// error), built from the message's agent_events and kept live by the tool.started / tool.completed events; and the
// reasoning when the message has one of its own. Untrusted text (tool names, previews, reasoning) only via textContent.
import { el } from './ui.js';

// The rows of a list of agent events: a tool.completed closes the oldest open call of the same tool.
function rows(events) {
  const out = [];
  for (const e of events) {
    if (!e || typeof e.tool !== 'string') continue;
    if (e.type === 'tool.started') {
      out.push({ tool: e.tool, preview: e.preview || '', done: false });
    } else if (e.type === 'tool.completed') {
      let row = out.find((r) => !r.done && r.tool === e.tool);
      if (!row) out.push((row = { tool: e.tool, preview: '' }));
      row.done = true;
      row.error = e.error === true;
      row.duration = typeof e.duration === 'number' ? e.duration : null;
    }
  }
  return out;
}

function seconds(d) {
  return d < 10 ? d.toFixed(d < 1 ? 2 : 1) + ' s' : Math.round(d) + ' s';
}

function render(li) {
  const list = li.hlEvents || [];
  const key = JSON.stringify(list);
  if (key === li.hlEventsKey) return;
  li.hlEventsKey = key;
  let ul = li.querySelector(':scope > .activity');
  const shown = rows(list);
  if (!shown.length) {
    if (ul) ul.remove();
    return;
  }
  if (!ul) {
    ul = el('ul', 'activity');
    ul.setAttribute('aria-label', 'Tool activity');
    li.append(ul);
  }
  ul.replaceChildren(
    ...shown.map((r) => {
      const row = el('li', 'tool');
      row.dataset.state = !r.done ? 'running' : r.error ? 'error' : 'done';
      row.append(el('span', 'tool-icon'), el('span', 'tool-name', r.tool));
      if (r.preview) row.append(el('code', 'tool-preview', r.preview));
      const end = !r.done ? 'running…' : (r.error ? 'failed' : '') + (r.duration !== null ? (r.error ? ' · ' : '') + seconds(r.duration) : '');
      if (end) row.append(el('span', 'tool-time', end));
      return row;
    }),
  );
}

// The message's own agent_events (message events and the messages page carry the whole list): they replace what the
// live tool events added.
export function setAgentEvents(li, m) {
  if (Array.isArray(m.agent_events)) li.hlEvents = m.agent_events.slice();
  render(li);
  renderReasoning(li, m.reasoning);
}

// A live tool.started / tool.completed event (its payload) for this message.
export function addToolEvent(li, type, payload) {
  if (!payload || typeof payload.tool !== 'string') return;
  (li.hlEvents = li.hlEvents || []).push(Object.assign({ type }, payload));
  render(li);
}

// The tool the message's run is waiting on (the last call not completed yet), or null.
export function runningTool(li) {
  const open = rows(li.hlEvents || []).filter((r) => !r.done);
  return open.length ? open[open.length - 1].tool : null;
}

function renderReasoning(li, text) {
  let d = li.querySelector(':scope > .reasoning');
  if (typeof text !== 'string' || !text) {
    if (d) d.remove();
    return;
  }
  if (!d) {
    d = el('details', 'reasoning');
    d.append(el('summary', '', 'Reasoning'), el('div', 'reasoning-text'));
    li.append(d);
  }
  d.lastChild.textContent = text;
}
