/* The carer page's service worker (registered by carer.js over HTTPS only,
 * scope "carer": it controls carer.html and nothing else).
 *
 * - An offline shell: the page's own files are fetched from the network
 *   first (so a new version shows at once) and kept; when the gateway cannot
 *   be reached the kept copy opens, and the page says it is not connected.
 * - Never anything under /api/ and never /ws: calls, sessions and receipts
 *   are never answered from a cache (a WebSocket does not pass through a
 *   service worker anyway).
 * - A tap on a call's notification brings the page forward (or opens it). */
'use strict';

const CACHE = 'wardgate-carer-1';
const SHELL = ['carer.html', 'carer.js', 'carer.css', 'common.js', 'paging.js', 'display-sound.js', 'feed.js', 'style.css', 'carer.webmanifest',
  'icons/carer.svg', 'icons/carer-192.png', 'icons/carer-512.png'];
const NETWORK_TIMEOUT_MS = 4000;
const base = new URL('./', self.location.href);
const shellPaths = new Set(SHELL.map((f) => new URL(f, base).pathname));

self.addEventListener('install', (event) => {
  /* One by one: a file the gateway does not serve must not stop the rest. */
  event.waitUntil(caches.open(CACHE).then((cache) => Promise.all(SHELL.map((f) => cache.add(new URL(f, base)).catch(() => null))))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('wardgate-carer-') && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

function fromNetwork(request) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), NETWORK_TIMEOUT_MS);
    fetch(request).then((response) => { clearTimeout(timer); resolve(response); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/') || url.pathname === '/ws') return; /* never cached */
  if (!shellPaths.has(url.pathname)) return;
  const key = new URL(url.pathname, self.location.origin).href; /* carer.html?x is carer.html */
  event.respondWith(fromNetwork(request).then((response) => {
    if (response.ok && response.type === 'basic') {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(key, copy)).catch(() => {});
    }
    return response;
  }).catch(() => caches.match(key).then((hit) => hit || Response.error())));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = new URL((event.notification.data && event.notification.data.url) || 'carer.html', base).href;
  event.waitUntil(self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((list) => {
    const page = list.find((c) => new URL(c.url).pathname === new URL(target).pathname);
    if (page) return page.focus();
    return self.clients.openWindow(target);
  }));
});
