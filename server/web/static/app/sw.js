// The inspector app's service worker (scope /app/). BUILD and ASSETS are written above this line
// by server/web/inspector.py. It keeps the shell, the manifest and the app's files (icons
// included) for offline use, under a cache named after the build, and the form versions the app
// opened (immutable once published).
// Every other API request goes to the network untouched: the outbox must see real failures.

const SHELL = "/app/";
const MANIFEST = "/app/manifest.webmanifest"; // in ASSETS: the installed app's name and icons offline
const APP_CACHE = `adal-app-${BUILD}`;
const FORM_CACHE = "adal-forms-v1";
const FORM_VERSION = /^\/api\/v1\/forms\/[^/]+\/versions\/\d+$/;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(APP_CACHE);
    await cache.addAll(ASSETS.map((url) => new Request(url, { cache: "reload", credentials: "omit" })));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const keys = await caches.keys();
    await Promise.all(keys.filter((key) => key.startsWith("adal-app-") && key !== APP_CACHE).map((key) => caches.delete(key)));
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname.startsWith("/app/")) {
    event.respondWith(shell(request));
  } else if (url.pathname.startsWith("/app/static/") || url.pathname.startsWith("/app/i18n/") || url.pathname === MANIFEST) {
    event.respondWith(fromCache(APP_CACHE, request, url.pathname));
  } else if (FORM_VERSION.test(url.pathname) && !url.search) {
    event.respondWith(fromCache(FORM_CACHE, request, url.pathname));
  }
});

/** Every screen is the same shell: the kept copy at once (offices have poor reception). */
async function shell(request) {
  const cache = await caches.open(APP_CACHE);
  const kept = await cache.match(SHELL);
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) await cache.put(SHELL, response.clone());
  return response;
}

async function fromCache(name, request, key) {
  const cache = await caches.open(name);
  const kept = await cache.match(key);
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) await cache.put(key, response.clone());
  return response;
}
