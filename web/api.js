// The public API, as a third-party client uses it: tokens in IndexedDB (never cookies), refreshed before they expire.
const DB = 'hermeslink', STORE = 'kv', KEY = 'tokens';

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function kv(mode, fn) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const req = fn(tx.objectStore(STORE));
    tx.oncomplete = () => { db.close(); resolve(req.result); };
    tx.onerror = () => { db.close(); reject(tx.error); };
  });
}

export const loadTokens = () => kv('readonly', (s) => s.get(KEY));
export const saveTokens = (t) => kv('readwrite', (s) => s.put(t, KEY));
export const clearTokens = () => kv('readwrite', (s) => s.delete(KEY));

function instanceId() {
  const a = new Uint8Array(16);
  crypto.getRandomValues(a);
  return 'web-' + Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

function deviceFields(t) {
  return {
    app_instance_id: t.app_instance_id,
    device_label: 'Web browser',
    device_platform: 'web',
    device_model: (navigator.userAgent || 'browser').slice(0, 120),
  };
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && (body.error.message || body.error.code)) || 'HTTP ' + status);
    this.status = status;
    this.body = body;
    this.code = (body && body.error && body.error.code) || null;
  }
}

async function parse(res) {
  const type = res.headers.get('content-type') || '';
  const body = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

function store(session, appInstanceId) {
  return {
    app_instance_id: appInstanceId,
    access_token: session.access_token.token,
    access_expires_at: Date.parse(session.access_token.expires_at),
    refresh_token: session.refresh_token.token,
    refresh_expires_at: Date.parse(session.refresh_token.expires_at),
    device_id: session.device && session.device.id,
  };
}

export async function claim(sessionId, code) {
  const t = { app_instance_id: instanceId() };
  const res = await fetch('/api/v1/pairing/claim', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(Object.assign({ session_id: sessionId, claim_token: code }, deviceFields(t))),
  });
  const tokens = store(await parse(res), t.app_instance_id);
  await saveTokens(tokens);
  return tokens;
}

const convPath = (id) => '/api/v1/conversations/' + encodeURIComponent(id);
const profilePath = (name, rest) => '/api/v1/profiles/' + encodeURIComponent(name) + rest;

export class Client {
  constructor(tokens, onSignedOut) {
    this.tokens = tokens;
    this.onSignedOut = onSignedOut;
    this.refreshing = null;
    this.timer = null;
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    // refresh a minute before the access token expires (at least 5 s from now)
    const wait = Math.max(5000, this.tokens.access_expires_at - Date.now() - 60000);
    this.timer = setTimeout(() => this.refresh().catch(() => {}), Math.min(wait, 2 ** 31 - 1));
  }

  // Rotates the tokens. Another tab of this origin may have rotated them already (the server then refuses our old
  // refresh token as reused): take the stored pair when it is newer, and rotate under a lock where the browser has one.
  refresh() {
    if (this.refreshing) return this.refreshing;
    const rotate = async () => {
      const stored = await loadTokens().catch(() => null);
      if (stored && stored.refresh_token && stored.refresh_token !== this.tokens.refresh_token) {
        this.tokens = stored;
        this.schedule();
        return;
      }
      const res = await fetch('/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(Object.assign({ refresh_token: this.tokens.refresh_token }, deviceFields(this.tokens))),
      });
      if (res.status === 401) {
        await clearTokens();
        this.onSignedOut();
        throw new ApiError(401, null);
      }
      this.tokens = store(await parse(res), this.tokens.app_instance_id);
      await saveTokens(this.tokens);
      this.schedule();
    };
    const locked = navigator.locks ? navigator.locks.request('hermeslink-refresh', rotate) : rotate();
    this.refreshing = locked.finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  // Stops the refresh timer (signed out: the client is dropped).
  close() {
    clearTimeout(this.timer);
  }

  // Signs this browser out: the daemon revokes this device (POST /api/v1/auth/logout), the stored tokens go.
  async logout() {
    this.close();
    await fetch('/api/v1/auth/logout', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: this.tokens.refresh_token }),
    }).catch(() => {});
    await clearTokens();
  }

  async headers() {
    if (Date.now() > this.tokens.access_expires_at - 30000) await this.refresh();
    return { Authorization: 'Bearer ' + this.tokens.access_token };
  }

  async call(method, path, body) {
    for (let attempt = 0; ; ++attempt) {
      const headers = await this.headers();
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      if (res.status === 401 && attempt === 0) {
        await this.refresh();
        continue;
      }
      return parse(res);
    }
  }

  // A page of conversations (newest first): opts {archived, query, cursor, limit}; with a query, the search route
  // (titles and message text). Resolves {conversations, page: {has_more, next_cursor}}.
  listConversations(opts = {}) {
    const q = new URLSearchParams({ limit: String(opts.limit || 25) });
    if (opts.cursor) q.set('cursor', opts.cursor);
    if (opts.query) q.set('query', opts.query);
    const base = '/api/v1/conversations' + (opts.archived ? '/archived' : '') + (opts.query ? '/search' : '');
    return this.call('GET', base + '?' + q);
  }
  createConversation(title, profile) {
    const body = {};
    if (title) body.title = title;
    if (profile) body.profile = profile;
    return this.call('POST', '/api/v1/conversations', body);
  }
  conv(id, method, tail, body) { return this.call(method, '/api/v1/conversations/' + encodeURIComponent(id) + tail, body); }
  rename(id, title) { return this.conv(id, 'PATCH', '/title', { title }); }
  archive(id, on) { return this.conv(id, 'POST', on ? '/archive' : '/unarchive'); }
  deleteConversation(id) { return this.conv(id, 'DELETE', ''); }
  ack(id) { return this.conv(id, 'POST', '/ack'); } // no body: read up to the conversation's last event
  setModel(id, model) { return this.conv(id, 'PATCH', '/model', { model_id: model }); }
  setProfile(id, profile) { return this.conv(id, 'PATCH', '/profile', { profile }); }
  profiles() { return this.call('GET', '/api/v1/profiles'); }
  models(profile) { return this.call('GET', '/api/v1/models' + (profile ? '?profile=' + encodeURIComponent(profile) : '')); }
  allEventsUrl(after) {
    const url = '/api/v1/conversations/events?mode=notifications';
    return after === null || after === undefined || after === '' ? url : url + '&after=' + encodeURIComponent(after);
  }
  messages(id) { return this.call('GET', '/api/v1/conversations/' + encodeURIComponent(id) + '/messages?limit=100'); }
  // blobIds: blobs uploaded to this conversation (uploadBlob), sent as attachments [{blob_id}]
  send(id, content, blobIds) {
    const a = new Uint8Array(8);
    crypto.getRandomValues(a);
    const cmid = 'web-' + Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
    const body = { content, client_message_id: cmid };
    if (blobIds && blobIds.length) body.attachments = blobIds.map((b) => ({ blob_id: b }));
    return this.call('POST', '/api/v1/conversations/' + encodeURIComponent(id) + '/messages', body);
  }
  cancelRun(id, runId) {
    return this.call('POST', convPath(id) + '/runs/' + encodeURIComponent(runId) + '/cancel');
  }
  // scope: once | session | always (API.md: the approve route's `scope`)
  approve(id, approvalId, scope) {
    return this.call('POST', convPath(id) + '/approvals/' + encodeURIComponent(approvalId) + '/approve', { scope });
  }
  deny(id, approvalId) {
    return this.call('POST', convPath(id) + '/approvals/' + encodeURIComponent(approvalId) + '/deny', {});
  }
  deleteBlob(id, blobId) {
    return this.call('DELETE', convPath(id) + '/blobs/' + encodeURIComponent(blobId));
  }

  // A blob's bytes as a Blob (fetched with the bearer header; shown through a blob: URL).
  async fetchBlob(id, blobId) {
    for (let attempt = 0; ; ++attempt) {
      const res = await fetch(convPath(id) + '/blobs/' + encodeURIComponent(blobId), { headers: await this.headers() });
      if (res.status === 401 && attempt === 0) {
        await this.refresh();
        continue;
      }
      if (!res.ok) await parse(res);
      return res.blob();
    }
  }

  // Uploads a file as a blob of conversation id (raw body, filename in Content-Disposition) with XMLHttpRequest, which
  // reports upload progress: onProgress(sent, total). Returns {done: Promise<blob>, abort()}.
  uploadBlob(id, file, onProgress) {
    let xhr = null, aborted = false;
    const once = (headers) => new Promise((resolve, reject) => {
      xhr = new XMLHttpRequest();
      xhr.open('POST', convPath(id) + '/blobs');
      xhr.setRequestHeader('Authorization', headers.Authorization);
      xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
      const name = (file.name || 'file').replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 200);
      xhr.setRequestHeader('Content-Disposition', 'attachment; filename="' + name + '"');
      xhr.upload.onprogress = (e) => onProgress && onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
      xhr.onload = () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300 && body && body.blob) resolve(body.blob);
        else reject(new ApiError(xhr.status, body));
      };
      xhr.onerror = () => reject(new Error('the upload failed (network)'));
      xhr.onabort = () => reject(new Error('cancelled'));
      xhr.send(file);
    });
    const done = (async () => {
      try {
        return await once(await this.headers());
      } catch (e) {
        if (aborted || !(e instanceof ApiError) || e.status !== 401) throw e;
        await this.refresh();
        return once(await this.headers());
      }
    })();
    return { done, abort() { aborted = true; if (xhr) xhr.abort(); } };
  }

  listDevices() { return this.call('GET', '/api/v1/devices'); }
  renameDevice(id, label) { return this.call('PATCH', '/api/v1/devices/' + encodeURIComponent(id), { label }); }
  revokeDevice(id) { return this.call('DELETE', '/api/v1/devices/' + encodeURIComponent(id)); }
  listProfiles() { return this.call('GET', '/api/v1/profiles'); }
  // memory / skills of one profile ('default' is the Hermes home); target is 'memory' (MEMORY.md) or 'user' (USER.md)
  memory(profile) { return this.call('GET', profilePath(profile, '/memory')); }
  addMemory(profile, target, content) { return this.call('POST', profilePath(profile, '/memory/entries'), { target, content }); }
  removeMemory(profile, target, match) { return this.call('DELETE', profilePath(profile, '/memory/entries'), { target, match }); }
  skills(profile) { return this.call('GET', profilePath(profile, '/skills')); }
  setSkill(profile, skill, enabled) {
    return this.call('PATCH', profilePath(profile, '/skills/' + encodeURIComponent(skill)), { enabled });
  }
  eventsUrl(id, after) {
    const url = '/api/v1/conversations/' + encodeURIComponent(id) + '/events';
    return after === null || after === undefined || after === '' ? url : url + '?after=' + encodeURIComponent(after);
  }
}
