// portal-sw.js: keeps the portal's page, styles and scripts available offline.
// Network first (so updates arrive), the cached copy when offline. Only these GET requests
// are handled: API calls, case numbers, PINs and hashes never pass through this cache and
// nothing is queued for later.

const CACHE = "hashwall-portal-v1";
const SHELL = [
  "/portal",
  "/portal/status",
  "/portal/static/portal.css",
  "/portal/static/portal-common.js",
  "/portal/static/portal.js",
  "/portal/static/portal-status.js",
  "/portal/static/hashwall-hash.js",
  "/portal/static/hashwall-hash-worker.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!SHELL.includes(url.pathname)) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
        }
        return response;
      })
      .catch(() => caches.match(url.pathname).then((hit) => hit ?? Response.error())),
  );
});
