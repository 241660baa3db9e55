// Shared by the views: the signed-in client, element lookup, the status line and navigation between views.
// Views register themselves (register('list', fn)); go('list') / go('conversation', c) switch to one.
export const state = { client: null };

export const $ = (id) => document.getElementById(id);

const views = new Map();
const leaving = []; // what to stop when the shown view changes (event streams, timers)

export function register(name, enter) {
  views.set(name, enter);
}

export function onLeave(fn) {
  leaving.push(fn);
}

// Shows one section (by id) and hides the others.
export function show(section) {
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== section;
  document.body.dataset.view = section;
}

export function status(text) {
  $('status').textContent = text;
}

export async function go(name, arg) {
  while (leaving.length) leaving.pop()();
  const enter = views.get(name);
  if (!enter) throw new Error('no view ' + name);
  return enter(arg);
}

// A new element of tag with class cls (optional) and its text (optional, set with textContent: safe for untrusted text).
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// A type="button" element with text and class cls that calls fn on click.
export function button(text, cls, fn) {
  const b = el('button', cls, text);
  b.type = 'button';
  b.addEventListener('click', fn);
  return b;
}
