// The web client's service worker (registered by app.js with scope /app, served with Service-Worker-Allowed: /app).
// It only ever handles GETs of the shell: /app and /app/<file> of this origin, network first (so an update shows at once)
// with the versioned cache as the offline fallback. Everything else, /api/ above all, is left alone: no respondWith,
// the browser sends it to the network as if there were no service worker, and nothing of it is ever cached.
const CACHE = 'hermeslink-shell-v1';
// pre-cached at install (a file missing here is cached when first fetched)
const SHELL = [
  '/app', '/app/app.css', '/app/conversation.css', '/app/markdown.css', '/app/list.css', '/app/more.css', '/app/app.js',
  '/app/ui.js', '/app/api.js', '/app/sse.js', '/app/list.js', '/app/ack.js', '/app/pickers.js', '/app/conversation.js',
  '/app/markdown.js', '/app/activity.js', '/app/approvals.js', '/app/attachments.js', '/app/runbar.js',
  '/app/devices.js', '/app/profile.js', '/app/keys.js', '/app/session.js', '/app/manifest.webmanifest',
  '/app/icon-192.png', '/app/maskable-192.png',
];

function isShell(url) {
  return url.origin === self.location.origin && (url.pathname === '/app' || url.pathname.startsWith('/app/')) &&
    url.pathname !== '/app/sw.js';
}

self.addEventListener('install', (event) => {
  // one missing file (renamed since) must not fail the install: the rest is cached, it is cached when first fetched
  event.waitUntil(caches.open(CACHE).then((c) => Promise.all(SHELL.map((u) => c.add(u).catch(() => {}))))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('hermeslink-shell-') && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

async function networkFirst(request, url) {
  const key = url.origin + url.pathname; // the fragment and any query are not part of a shell file's name
  try {
    const res = await fetch(request);
    if (res.ok && res.type === 'basic') {
      const copy = res.clone();
      caches.open(CACHE).then((c) => c.put(key, copy)).catch(() => {});
    }
    return res;
  } catch (e) {
    const cached = await caches.match(key, { cacheName: CACHE, ignoreVary: true });
    if (cached) return cached;
    throw e;
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (!isShell(url)) return; // /api/, /pair, other origins: straight to the network
  event.respondWith(networkFirst(request, url));
});
