// Attachments: the composer's tray (files picked, dropped on the conversation or pasted, each uploaded at once as a blob
// of the conversation with a progress bar, previewed — images as thumbnails — and removable before sending) and the
// attachments shown on messages (images fetched with the bearer header and shown from blob: URLs, other files as
// download links built the same way). File names are untrusted: only via textContent.
import { $, state, el } from './ui.js';

export const MAX_BYTES = 50 * 1024 * 1024; // API.md §7 Blobs: larger uploads are refused (413 blob_too_large)
export const MAX_FILES = 32; // attachments per message the daemon accepts

let tray = null; // {convId, items: [{file, url, blob, upload, done, li}]}
const shown = new Map(); // blob id -> Promise<object URL> of the open conversation's message attachments

function size(n) {
  return n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(0) + ' KB' : (n / 1048576).toFixed(1) + ' MB';
}

function isImage(mime) {
  return /^image\/(png|jpeg|gif|webp|avif|bmp)$/i.test(mime || '');
}

function trayError(text) {
  const p = $('attach-error');
  p.textContent = text;
  p.hidden = !text;
}

function refresh() {
  const ul = $('attach-tray');
  ul.hidden = !tray || !tray.items.length;
}

function remove(item) {
  const i = tray ? tray.items.indexOf(item) : -1;
  if (i < 0) return;
  tray.items.splice(i, 1);
  item.li.remove();
  if (item.url) URL.revokeObjectURL(item.url);
  if (!item.blob) item.upload.abort();
  else state.client.deleteBlob(tray.convId, item.blob.id).catch(() => {}); // unsent: not kept
  refresh();
}

// Adds files to the tray of the open conversation and starts uploading them.
export function addFiles(files) {
  if (!tray) return;
  trayError('');
  for (const file of files) {
    if (tray.items.length >= MAX_FILES) {
      trayError('At most ' + MAX_FILES + ' attachments per message.');
      break;
    }
    if (file.size > MAX_BYTES) {
      trayError(`"${file.name || 'file'}" is ${size(file.size)}: the limit is ${size(MAX_BYTES)} per file.`);
      continue;
    }
    if (file.size === 0) {
      trayError(`"${file.name || 'file'}" is empty.`);
      continue;
    }
    const item = { file, url: null, blob: null, li: el('li', 'chip') };
    item.li.dataset.state = 'uploading';
    if (isImage(file.type)) {
      item.url = URL.createObjectURL(file);
      const img = el('img', 'thumb');
      img.alt = '';
      img.src = item.url;
      item.li.append(img);
    } else {
      item.li.append(el('span', 'file-icon'));
    }
    const name = el('span', 'chip-name', file.name || 'pasted image');
    name.title = file.name || '';
    const bar = el('progress', 'chip-progress');
    bar.max = file.size;
    bar.value = 0;
    bar.setAttribute('aria-label', 'Uploading ' + (file.name || 'attachment'));
    const x = el('button', 'chip-remove', '×');
    x.type = 'button';
    x.setAttribute('aria-label', 'Remove ' + (file.name || 'attachment'));
    x.addEventListener('click', () => remove(item));
    item.li.append(name, bar, x);
    $('attach-tray').append(item.li);
    tray.items.push(item);
    const convId = tray.convId;
    item.upload = state.client.uploadBlob(convId, file, (sent, total) => {
      bar.max = total || file.size;
      bar.value = sent;
    });
    item.done = item.upload.done.then(
      (blob) => {
        item.blob = blob;
        item.li.dataset.state = 'done';
        bar.value = bar.max;
        return blob;
      },
      (e) => {
        item.li.dataset.state = 'error';
        const big = e.status === 413;
        if (e.message !== 'cancelled')
          trayError(`"${file.name || 'file'}" could not be uploaded: ${big ? 'it is larger than the limit (' + size(MAX_BYTES) + ')' : e.message}`);
        throw e;
      },
    );
    item.done.catch(() => {});
  }
  refresh();
}

// Whether the tray holds files (sending then needs no text).
export function hasAttachments() {
  return !!tray && tray.items.length > 0;
}

// Waits for every upload of the tray; resolves their blob ids (rejects when one failed: the tray keeps its files).
export async function uploadedBlobIds() {
  if (!tray) return [];
  const blobs = await Promise.all(tray.items.map((i) => i.done));
  return blobs.map((b) => b.id);
}

// Empties the tray after a send (the blobs now belong to the message).
export function clearTray() {
  if (!tray) return;
  for (const i of tray.items) if (i.url) URL.revokeObjectURL(i.url);
  tray.items = [];
  $('attach-tray').replaceChildren();
  trayError('');
  refresh();
}

// The tray of a newly opened conversation; leave() drops unsent files and the shown images' blob: URLs.
export function openTray(convId) {
  tray = { convId, items: [] };
  $('attach-tray').replaceChildren();
  trayError('');
  refresh();
}

export function leave() {
  if (tray) for (const i of tray.items.slice()) remove(i);
  tray = null;
  for (const p of shown.values()) p.then((u) => URL.revokeObjectURL(u), () => {});
  shown.clear();
}

function objectUrl(convId, blobId) {
  let p = shown.get(blobId);
  if (!p) {
    p = state.client.fetchBlob(convId, blobId).then((b) => URL.createObjectURL(b));
    shown.set(blobId, p);
    p.catch(() => shown.delete(blobId));
  }
  return p;
}

// The attachments of message m on li ([{blob_id, filename, mime, size}]), rendered once per message.
export function renderAttachments(li, m) {
  const list = Array.isArray(m.attachments) ? m.attachments : [];
  const key = list.map((a) => a.blob_id).join(',');
  if (key === (li.hlAttachKey || '')) return;
  li.hlAttachKey = key;
  let box = li.querySelector(':scope > .attachments');
  if (!list.length) {
    if (box) box.remove();
    return;
  }
  if (!box) {
    box = el('div', 'attachments');
    li.append(box);
  }
  box.replaceChildren();
  const convId = m.conversation_id;
  for (const a of list) {
    if (typeof a.blob_id !== 'string') continue;
    const name = a.filename || a.blob_id;
    if (isImage(a.mime)) {
      const img = el('img', 'attachment-image');
      img.alt = name;
      img.dataset.blob = a.blob_id;
      box.append(img);
      objectUrl(convId, a.blob_id).then(
        (u) => { img.src = u; },
        () => { img.replaceWith(el('span', 'attachment-missing', name + ' (unavailable)')); },
      );
    } else {
      const link = el('a', 'attachment-file');
      link.href = '#';
      link.dataset.blob = a.blob_id;
      link.append(el('span', 'file-icon'), el('span', 'chip-name', name));
      if (typeof a.size === 'number') link.append(el('span', 'chip-size', size(a.size)));
      link.addEventListener('click', async (e) => {
        e.preventDefault();
        try {
          const u = await objectUrl(convId, a.blob_id);
          const d = el('a');
          d.href = u;
          d.download = name;
          document.body.append(d);
          d.click();
          d.remove();
        } catch (err) {
          link.title = 'Could not download: ' + err.message;
        }
      });
      box.append(link);
    }
  }
}

// Picking, dropping and pasting files while a conversation is open.
$('attach').addEventListener('click', () => $('file-input').click());
$('file-input').addEventListener('change', (e) => {
  addFiles(Array.from(e.target.files || []));
  e.target.value = '';
});
const view = $('conv-view');
const hasFiles = (dt) => !!dt && Array.from(dt.types || []).includes('Files');
view.addEventListener('dragover', (e) => {
  if (!tray || !hasFiles(e.dataTransfer)) return;
  e.preventDefault();
  e.dataTransfer.dropEffect = 'copy';
  view.classList.add('dropping');
});
view.addEventListener('dragleave', (e) => {
  if (e.target === view || !view.contains(e.relatedTarget)) view.classList.remove('dropping');
});
view.addEventListener('drop', (e) => {
  view.classList.remove('dropping');
  if (!tray || !e.dataTransfer || !e.dataTransfer.files.length) return;
  e.preventDefault();
  addFiles(Array.from(e.dataTransfer.files));
});
view.addEventListener('paste', (e) => {
  const files = e.clipboardData ? Array.from(e.clipboardData.files || []) : [];
  if (!tray || !files.length) return;
  e.preventDefault();
  addFiles(files);
});
