// The counter's service worker (served as /counter/sw.js, scope /counter/): keeps the counter
// page and the files it loads, so that the page opens and works while the network is down.
// - The redeem page (a navigation to a counter page the page asked to keep): the network first,
//   and the copy kept from the last successful load when there is no network. A page that
//   answered with the login page (the session ended) removes the copy.
// - The page's files (/static/…): the copy kept, refreshed from the network in the background.
// - Everything else (the snapshot, the sync, every POST) goes to the network untouched: what a
//   clerk may redeem is never answered from here.
// The page tells the worker which files to keep ({type: "keep", urls: [...]}) once registered,
// and is answered {type: "kept"} when they are in the cache; {type: "forget"} (the clerk logs
// out) removes the kept pages.
"use strict";

var CACHE = "ectix-counter-v1";

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("ectix-counter-") === 0 && name !== CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function sameOrigin(url) {
  return new URL(url, self.location.href).origin === self.location.origin;
}

function isCounterPage(url) {
  var path = new URL(url, self.location.href).pathname;
  return path.indexOf("/counter/") === 0 && path.indexOf("/counter/offline/") !== 0;
}

function keepable(response, request) {
  if (!response || !response.ok || response.type !== "basic") return false;
  // A counter page that came back as another page (a redirect to the login page) is not kept.
  return !(request.mode === "navigate" && !isCounterPage(response.url));
}

function keep(urls) {
  return caches.open(CACHE).then(function (cache) {
    return Promise.all(urls.filter(sameOrigin).map(function (url) {
      return fetch(url, {credentials: "same-origin"}).then(function (response) {
        if (response.ok && (!isCounterPage(url) || isCounterPage(response.url))) {
          return cache.put(url, response);
        }
        if (isCounterPage(url)) return cache.delete(url);
        return undefined;
      }).catch(function () { /* offline: keep what is there */ });
    }));
  });
}

// The clerk logged out: no counter page is kept any more (the files may stay), and that
// clerk's snapshot is deleted (the queue of redemptions not yet synced stays).
function forgetSnapshot(scope) {
  return new Promise(function (resolve) {
    var request = indexedDB.open("ectix-counter-offline", 1);
    request.onupgradeneeded = function () { request.transaction.abort(); };
    request.onerror = function () { resolve(); };
    request.onsuccess = function () {
      var db = request.result;
      var tx = db.transaction("snapshots", "readwrite");
      tx.objectStore("snapshots").delete(scope);
      tx.oncomplete = tx.onerror = tx.onabort = function () {
        db.close();
        resolve();
      };
    };
  });
}

function forget(scope) {
  var pages = caches.open(CACHE).then(function (cache) {
    return cache.keys().then(function (requests) {
      return Promise.all(requests.filter(function (request) {
        return isCounterPage(request.url);
      }).map(function (request) { return cache.delete(request); }));
    });
  });
  return Promise.all([pages, typeof scope === "string" ? forgetSnapshot(scope) : null]);
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "forget") {
    event.waitUntil(forget(data.scope));
    return;
  }
  if (data.type !== "keep" || !Array.isArray(data.urls)) return;
  var source = event.source;
  event.waitUntil(keep(data.urls).then(function () {
    if (source) source.postMessage({type: "kept"});
  }));
});

// A counter page is kept only if the page asked for it (the redeem page): the network's answer
// refreshes the copy, a redirect (to the login page) removes it.
function pageFirst(request) {
  return fetch(request).then(function (response) {
    var copy = response.clone();
    caches.open(CACHE).then(function (cache) {
      return cache.match(request.url).then(function (kept) {
        if (!kept) return undefined;
        if (keepable(response, request)) return cache.put(request.url, copy);
        // A navigation's redirect reaches the worker unfollowed (opaqueredirect): to the login page.
        if (response.redirected || response.type === "opaqueredirect") return cache.delete(request.url);
        return undefined;
      });
    });
    return response;
  }).catch(function () {
    return caches.match(request.url, {ignoreSearch: true}).then(function (kept) {
      return kept || Response.error();
    });
  });
}

function fileFromCache(request) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request).then(function (kept) {
      var fresh = fetch(request).then(function (response) {
        if (keepable(response, request)) cache.put(request, response.clone());
        return response;
      });
      if (kept) {
        fresh.catch(function () {});
        return kept;
      }
      return fresh;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET" || !sameOrigin(request.url)) return;
  var path = new URL(request.url).pathname;
  if (request.mode === "navigate" && isCounterPage(request.url)) {
    event.respondWith(pageFirst(request));
  } else if (path.indexOf("/static/") === 0) {
    event.respondWith(fileFromCache(request));
  }
});
