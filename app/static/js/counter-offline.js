// Offline redemption at the counter (票券核銷, like pretixSCAN's offline mode).
//
// While online the page keeps this counter's signed snapshot (GET data-snapshot-url, refreshed
// every data-refresh seconds) in IndexedDB: a hash of each redeemable ticket's code → its id,
// status, product and window; never a code. Offline (no network, or the server does not
// answer) a scanned or typed code is normalised as the server does (app/tickets/codes.py),
// hashed (SHA-256 of the snapshot's salt and the code, first 48 bits) and looked up in the
// snapshot; the ticket is shown, and 【離線核銷】 marks it here and queues the redemption
// (idempotency key, ticket id, a proof of the code, clerk, time, this device's id). The page
// says 「離線中 — 連線後將同步」. Back online the queue is sent to data-sync-url, where each entry goes through the
// counter's own redemption; the answer of each (synced, or a conflict: redeemed elsewhere
// meanwhile, returned, window closed, not this branch's) is shown here, and conflicts are
// listed for the merchant (離線核銷衝突).
//
// A snapshot is used only if its Ed25519 signature (WebCrypto) verifies over its exact bytes
// with the public key the page holds, it is this counter's (store, branch, clerk), and it is not
// older than data-max-age seconds; otherwise the page refuses to redeem offline and says why.
// The manifest and the service worker (/counter/sw.js) make the page open without a network.
(function () {
  "use strict";
  var panel = document.querySelector("[data-offline]");
  if (!panel || !window.indexedDB || !window.crypto || !window.crypto.subtle || !window.fetch) return;

  var cfg = {
    snapshotUrl: panel.dataset.snapshotUrl, syncUrl: panel.dataset.syncUrl,
    workerUrl: panel.dataset.workerUrl, manifestUrl: panel.dataset.manifestUrl,
    conflictsUrl: panel.dataset.conflictsUrl, healthUrl: panel.dataset.healthUrl,
    logoutUrl: panel.dataset.logoutUrl,
    publicKey: panel.dataset.publicKey,
    store: Number(panel.dataset.store), account: Number(panel.dataset.account),
    branch: panel.dataset.branch === "" ? null : Number(panel.dataset.branch),
    maxAge: Number(panel.dataset.maxAge) * 1000, refresh: Math.max(Number(panel.dataset.refresh), 10) * 1000,
  };
  var SCOPE = cfg.store + ":" + (cfg.branch === null ? "-" : cfg.branch) + ":" + cfg.account;
  var SKEW = 5 * 60 * 1000;
  var BATCH = 200;
  var ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  var STATUS_LABELS = {unused: "未使用", unused_escrow_expired: "未使用且價金保管逾期"};
  var M = {
    offline: "離線中 — 連線後將同步",
    enterCode: "請輸入核銷代碼",
    unknown: "查無此核銷代碼，請確認是否輸入正確",
    notInSnapshot: "離線資料中查無此核銷代碼（離線資料只含本櫃台可核銷、下載時尚未使用的票券），請連線後再查詢",
    noSnapshot: "此裝置尚無離線核銷資料，無法離線核銷，請連線後再試",
    badSignature: "離線核銷資料的簽章不符，無法離線核銷，請連線後重新下載",
    tooOld: "離線核銷資料已超過 {hours} 小時未更新，無法離線核銷，請連線後重新下載",
    future: "離線核銷資料的時間晚於本機時間，請確認裝置時間是否正確",
    otherCounter: "離線核銷資料不屬於此櫃台（商店、分店或帳號不同），請連線後重新下載",
    malformed: "離線核銷資料格式不符，無法離線核銷，請連線後重新下載",
    turnedOff: "本商店已關閉櫃台離線核銷",
    noRight: "您沒有票券核銷的權限，無法取得離線核銷資料",
    loginAgain: "登入已逾時，請重新登入後同步離線核銷紀錄",
    already: "此票券已於 {at} 離線核銷，尚待同步",
    expired: "此票券已超過使用期限，已失效",
    notYet: "此票券尚未到使用起始日，無法核銷",
    done: "已離線核銷 — 離線中，連線後將同步",
    noSignatureSupport: "此瀏覽器不支援簽章驗證（Ed25519），無法離線核銷",
  };

  var state = {snapshot: null, refusal: M.noSnapshot, unreachable: false, syncing: false, fetching: false,
    worker: null};

  // IndexedDB -------------------------------------------------------------------------------
  var dbPromise = null;

  function database() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var request = indexedDB.open("ectix-counter-offline", 1);
        request.onupgradeneeded = function () {
          var db = request.result;
          db.createObjectStore("snapshots", {keyPath: "scope"});
          var queue = db.createObjectStore("queue", {keyPath: "key"});
          queue.createIndex("ticket", ["store", "ticket_id"]);
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return dbPromise;
  }

  function withStore(name, mode, work) {
    return database().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(name, mode);
        var result;
        Promise.resolve(work(tx.objectStore(name))).then(function (r) { result = r; });
        tx.oncomplete = function () { resolve(result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function asPromise(request) {
    return new Promise(function (resolve, reject) {
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function get(name, key) {
    return withStore(name, "readonly", function (store) { return asPromise(store.get(key)); });
  }

  function put(name, value) {
    return withStore(name, "readwrite", function (store) { return asPromise(store.put(value)); });
  }

  function remove(name, key) {
    return withStore(name, "readwrite", function (store) { return asPromise(store.delete(key)); });
  }

  function all(name) {
    return withStore(name, "readonly", function (store) { return asPromise(store.getAll()); });
  }

  function pendingOf(records) { // a conflict already heard is not "waiting to sync"
    return records.filter(function (r) { return r.state === "pending"; });
  }

  function queuedFor(ticketId) {
    return withStore("queue", "readonly", function (store) {
      return asPromise(store.index("ticket").getAll([cfg.store, ticketId])).then(pendingOf);
    });
  }

  // This device ------------------------------------------------------------------------------
  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function deviceId() {
    var key = "ectix.counter.device";
    var id = null;
    try { id = window.localStorage.getItem(key); } catch (e) { /* private mode */ }
    if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
      id = hex(crypto.getRandomValues(new Uint8Array(8)));
      try { window.localStorage.setItem(key, id); } catch (e) { /* this page only */ }
    }
    return id;
  }
  var DEVICE = deviceId();

  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return hex(crypto.getRandomValues(new Uint8Array(16)));
  }

  // Codes (as app/tickets/codes.py) ----------------------------------------------------------
  function normalise(typed) {
    return (typed || "").replace(/[\s\-_.]/g, "").toUpperCase()
      .replace(/[IL]/g, "1").replace(/O/g, "0").slice(0, 64);
  }

  function timesTwo(x) {
    x <<= 1;
    return x & 32 ? x ^ 37 : x;
  }

  function wellFormed(code) {
    if (code.length !== 16) return false;
    var interim = 0;
    for (var i = 0; i < code.length; i++) {
      var value = ALPHABET.indexOf(code[i]);
      if (value < 0) return false;
      interim = timesTwo(interim) ^ value;
    }
    return interim === 0;
  }

  function fromHex(text) {
    var bytes = new Uint8Array(text.length / 2);
    for (var i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.substr(i * 2, 2), 16);
    return bytes;
  }

  function fromBase64Url(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function codeHash(salt, code) {
    var text = new TextEncoder().encode(code);
    var data = new Uint8Array(salt.length + text.length);
    data.set(salt, 0);
    data.set(text, salt.length);
    return crypto.subtle.digest("SHA-256", data).then(function (digest) {
      return hex(new Uint8Array(digest)).slice(0, 12);
    });
  }

  // The snapshot -----------------------------------------------------------------------------
  var keyPromise = null;

  function publicKey() {
    if (!keyPromise) {
      keyPromise = crypto.subtle.importKey("raw", fromBase64Url(cfg.publicKey), {name: "Ed25519"}, false, ["verify"]);
    }
    return keyPromise;
  }

  function refused(message) {
    var error = new Error(message);
    error.refusal = true;
    return error;
  }

  // The payload of an envelope that may be redeemed from, or a refusal (the page says it).
  function verify(envelope) {
    if (!envelope || typeof envelope.payload !== "string" || typeof envelope.signature !== "string") {
      return Promise.reject(refused(M.malformed));
    }
    var signature;
    try { signature = fromBase64Url(envelope.signature); } catch (e) { return Promise.reject(refused(M.badSignature)); }
    return publicKey().catch(function () { throw refused(M.noSignatureSupport); }).then(function (key) {
      return crypto.subtle.verify({name: "Ed25519"}, key, signature, new TextEncoder().encode(envelope.payload));
    }).then(function (valid) {
      if (!valid) throw refused(M.badSignature);
      var payload;
      try { payload = JSON.parse(envelope.payload); } catch (e) { throw refused(M.malformed); }
      if (payload.v !== 1 || !payload.tickets || !payload.products || typeof payload.salt !== "string") {
        throw refused(M.malformed);
      }
      if (payload.store !== cfg.store || payload.branch !== cfg.branch || payload.account !== cfg.account) {
        throw refused(M.otherCounter);
      }
      checkAge(payload);
      payload.saltBytes = fromHex(payload.salt);
      return payload;
    });
  }

  function checkAge(payload) {
    var issued = Date.parse(payload.issued_at);
    var expires = Date.parse(payload.expires_at);
    var now = Date.now();
    if (isNaN(issued) || isNaN(expires)) throw refused(M.malformed);
    if (issued > now + SKEW) throw refused(M.future);
    if (now - issued > cfg.maxAge || now > expires) {
      throw refused(M.tooOld.replace("{hours}", String(Math.max(Math.floor(cfg.maxAge / 3600000), 1))));
    }
  }

  function useSnapshot(payload) {
    state.snapshot = payload;
    state.refusal = null;
    panel.dataset.snapshotState = "ready";
    show();
  }

  function refuseSnapshot(message) {
    state.snapshot = null;
    state.refusal = message;
    panel.dataset.snapshotState = "refused";
    show();
  }

  function loadKept() {
    return get("snapshots", SCOPE).then(function (kept) {
      if (!kept) {
        panel.dataset.snapshotState = "none";
        show();
        return null;
      }
      return verify(kept.envelope).then(useSnapshot, function (error) {
        refuseSnapshot(error.refusal ? error.message : M.malformed);
      });
    });
  }

  function fetchSnapshot() {
    if (offline() || state.fetching) return Promise.resolve();
    state.fetching = true;
    return fetch(cfg.snapshotUrl, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        reachable();
        if (response.status === 404 || response.status === 403) {
          return remove("snapshots", SCOPE).then(function () {
            refuseSnapshot(response.status === 404 ? M.turnedOff : M.noRight);
            panel.dataset.snapshotState = "off";
          });
        }
        if (!response.ok || loggedOut(response)) return null;
        return response.json().then(function (envelope) {
          return verify(envelope).then(function (payload) {
            return put("snapshots", {scope: SCOPE, envelope: envelope, fetched_at: new Date().toISOString()})
              .then(function () { useSnapshot(payload); });
          }, function (error) {
            // A snapshot that does not verify is never kept; a kept one still valid stays in use.
            if (!state.snapshot) refuseSnapshot(error.refusal ? error.message : M.malformed);
          });
        });
      }, unreachable)
      .then(function () { state.fetching = false; }, function () { state.fetching = false; });
  }

  // Online or not ----------------------------------------------------------------------------
  function offline() {
    return !navigator.onLine || state.unreachable;
  }

  var probe = null;

  function unreachable() {
    state.unreachable = true;
    show();
    if (!probe) probe = window.setInterval(listen, 10000);
  }

  // While the server does not answer: ask it every 10 s whether it is back (a request that
  // reads nothing), and sync once it is.
  function listen() {
    if (!navigator.onLine) return;
    fetch(cfg.healthUrl, {credentials: "omit", cache: "no-store"}).then(function (response) {
      if (!response.ok) return;
      reachable();
      sync().then(fetchSnapshot);
    }, function () { /* still down */ });
  }

  function reachable() {
    var was = state.unreachable;
    state.unreachable = false;
    if (probe) {
      window.clearInterval(probe);
      probe = null;
    }
    if (was) show();
  }

  function loggedOut(response) {
    try {
      return response.redirected && new URL(response.url).pathname === "/login";
    } catch (e) {
      return false;
    }
  }

  // The page ---------------------------------------------------------------------------------
  var banner = panel.querySelector("[data-offline-banner]");
  var status = panel.querySelector("[data-offline-status]");
  var syncBox = panel.querySelector("[data-offline-sync]");
  var taipei = new Intl.DateTimeFormat("zh-TW", {timeZone: "Asia/Taipei", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false});

  function when(iso) {
    var parts = {};
    taipei.formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "/" + parts.month + "/" + parts.day + " " + parts.hour + ":" + parts.minute;
  }

  function money(amount) {
    return "NT$" + Number(amount).toLocaleString("en-US");
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function show() {
    panel.hidden = false;
    all("queue").then(function (records) {
      var mine = records.filter(function (r) { return r.store === cfg.store; });
      var pending = pendingOf(mine);
      panel.dataset.pending = String(pending.length);
      banner.hidden = !offline();
      banner.textContent = M.offline + (pending.length ? "（待同步 " + pending.length + " 筆）" : "");
      showConflicts(mine.filter(function (r) { return r.state === "conflict"; }));
    });
    if (state.snapshot) {
      var s = state.snapshot;
      status.textContent = "離線核銷資料：" + when(s.issued_at) + " 更新，共 " + s.count + " 張可核銷票券" +
        (s.partial ? "（僅含最近發行的票券）" : "") + "；裝置代號 " + DEVICE;
      status.className = "small text-muted";
    } else {
      status.textContent = state.refusal || M.noSnapshot;
      status.className = "small text-danger fw-bold";
    }
  }

  function showConflicts(conflicts) {
    var list = syncBox.querySelector("[data-offline-conflicts]");
    if (list) list.remove();
    if (!conflicts.length) return;
    var box = element("div", "alert alert-danger mb-0");
    box.setAttribute("data-offline-conflicts", "");
    box.setAttribute("data-testid", "offline-conflicts");
    box.setAttribute("role", "alert");
    box.appendChild(element("div", "fw-bold fs-5", "離線核銷衝突 " + conflicts.length + " 筆：連線後系統未能核銷，請確認實際交付情形"));
    var ul = element("ul", "mb-2");
    conflicts.forEach(function (r) {
      var li = element("li", "", (r.product || "") + " " + (r.serial || "") + "（離線核銷 " + when(r.at) + "）：" +
        (r.conflict_label ? r.conflict_label + " — " : "") + (r.message || ""));
      li.setAttribute("data-testid", "offline-conflict");
      ul.appendChild(li);
    });
    box.appendChild(ul);
    var link = element("a", "btn btn-sm btn-outline-danger me-2", "查看離線核銷衝突");
    link.href = cfg.conflictsUrl;
    box.appendChild(link);
    var dismiss = element("button", "btn btn-sm btn-outline-secondary", "知道了");
    dismiss.type = "button";
    dismiss.addEventListener("click", function () {
      Promise.all(conflicts.map(function (r) { return remove("queue", r.key); })).then(show);
    });
    box.appendChild(dismiss);
    syncBox.appendChild(box);
  }

  function counterArea() {
    return document.querySelector("[data-counter]");
  }

  function say(ok, message) {
    var answer = document.getElementById("counter-answer");
    if (!answer) return;
    answer.textContent = "";
    answer.dataset.counterResult = ok ? "success" : "refusal";
    var box = element("div", ok ? "alert alert-success display-6 fw-bold py-4 text-center" : "alert alert-danger fs-3 fw-bold py-3");
    box.setAttribute("role", ok ? "status" : "alert");
    box.setAttribute("data-testid", ok ? "counter-success" : "counter-error");
    box.appendChild(element("i", "bi " + (ok ? "bi-check-circle-fill" : "bi-x-octagon-fill")));
    box.appendChild(document.createTextNode(" " + message));
    answer.appendChild(box);
  }

  function clearCards() {
    var area = counterArea();
    if (!area) return;
    area.querySelectorAll("[data-testid='ticket-card'], [data-testid='done-ticket'], [data-offline-card]")
      .forEach(function (node) { node.remove(); });
  }

  function nextCustomer() {
    var field = document.querySelector("[data-counter-code]");
    if (field) {
      field.value = "";
      field.classList.remove("is-invalid");
      field.focus();
    }
  }

  function showCard(found) {
    var product = state.snapshot.products[String(found.product)] || {name: "", face_value: 0, kind: ""};
    var card = element("section", "card mb-3 border-2 border-warning");
    card.setAttribute("data-offline-card", "");
    card.setAttribute("data-testid", "offline-card");
    card.setAttribute("aria-label", "票券資訊（離線）");
    var body = element("div", "card-body");
    var head = element("div", "d-flex justify-content-between align-items-start flex-wrap gap-2");
    head.appendChild(element("h2", "h3 mb-1", product.name));
    var badge = element("span", "badge text-bg-success fs-5", STATUS_LABELS[found.status] || found.status);
    badge.setAttribute("data-testid", "status-badge");
    head.appendChild(badge);
    body.appendChild(head);
    body.appendChild(element("div", "fs-2 fw-bold", money(product.face_value)));
    var note = element("div", "text-muted", "離線資料（" + when(state.snapshot.issued_at) + "）" +
      (found.end ? "；使用期限至 " + when(found.end) : ""));
    body.appendChild(note);
    card.appendChild(body);
    var footer = element("div", "card-footer bg-body");
    var button = element("button", "btn btn-lg btn-primary px-5 fs-3", "離線核銷");
    button.type = "button";
    button.setAttribute("data-testid", "offline-act");
    button.addEventListener("click", function () {
      button.disabled = true;
      redeemOffline(found, product);
    });
    footer.appendChild(button);
    card.appendChild(footer);
    var answer = document.getElementById("counter-answer");
    answer.parentNode.insertBefore(card, answer.nextSibling);
    var field = document.querySelector("[data-counter-code]");
    if (field) field.value = "";
    button.focus();
  }

  // Looking up and redeeming offline ---------------------------------------------------------
  function usable() {
    if (!state.snapshot) return state.refusal || M.noSnapshot;
    try {
      checkAge(state.snapshot); // time passes while offline
    } catch (error) {
      refuseSnapshot(error.message);
      return error.message;
    }
    return null;
  }

  function refuse(message) {
    clearCards();
    say(false, message);
    var field = document.querySelector("[data-counter-code]");
    if (field) {
      field.focus();
      field.select();
    }
  }

  function lookUp(typed) {
    var code = normalise(typed);
    if (!code) return Promise.resolve(refuse(M.enterCode));
    if (code.length < 16) return Promise.resolve(refuse("核銷代碼應為 16 碼，目前輸入 " + code.length + " 碼"));
    var problem = usable();
    if (problem) return Promise.resolve(refuse(problem));
    if (!wellFormed(code)) return Promise.resolve(refuse(M.unknown));
    var snapshot = state.snapshot;
    return codeHash(snapshot.saltBytes, code).then(function (digest) {
      var entry = snapshot.tickets[digest];
      if (!entry) return refuse(M.notInSnapshot);
      var found = {ticket: entry[0], status: entry[1], product: entry[2], from: entry[3], end: entry[4],
        code: code};
      return queuedFor(found.ticket).then(function (queued) {
        if (queued.length) return refuse(M.already.replace("{at}", when(queued[0].at)));
        var now = Date.now();
        if (found.end && now > Date.parse(found.end)) return refuse(M.expired);
        if (found.from && now < Date.parse(found.from)) return refuse(M.notYet);
        clearCards();
        say(true, "離線查詢：請確認票券後按【離線核銷】");
        showCard(found);
        return null;
      });
    });
  }

  // What the queue keeps of the code: SHA-256 of the entry's key, ":" and the code, which the
  // server checks against the ticket's code (a ticket id alone redeems nothing). Not the code.
  function possessionProof(key, code) {
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(key + ":" + code)).then(function (digest) {
      return hex(new Uint8Array(digest));
    });
  }

  function redeemOffline(found, product) {
    var record = {
      key: newKey(), ticket_id: found.ticket, store: cfg.store, clerk: cfg.account, device: DEVICE,
      at: new Date().toISOString(), snapshot_at: state.snapshot.issued_at, product: product.name,
      serial: "", state: "pending",
    };
    return possessionProof(record.key, found.code).then(function (proof) {
      record.proof = proof;
      return queue(record, found);
    });
  }

  function queue(record, found) {
    return withStore("queue", "readwrite", function (store) {
      // Checked again in the same transaction: two presses never queue one ticket twice.
      return asPromise(store.index("ticket").getAll([cfg.store, found.ticket])).then(function (records) {
        if (pendingOf(records).length) return false;
        store.put(record);
        return true;
      });
    }).then(function (added) {
      clearCards();
      if (added) say(true, M.done);
      else say(false, M.already.replace("{at}", when(record.at)));
      nextCustomer();
      show();
      if (!offline()) sync();
    });
  }

  // The counter's requests, answered here while offline.
  function codeOf(form) {
    var field = form.querySelector("[data-counter-code]") || form.querySelector("input[name='code']");
    return field ? field.value : "";
  }

  function counterForm(elt) {
    var form = elt && elt.closest ? elt.closest("form") : null;
    var area = counterArea();
    if (!form || !area || !area.contains(form)) return null;
    var action = form.querySelector("input[name='action']");
    return action && action.value === "redeem" ? form : null;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = counterForm(event.detail.elt);
    if (!form || !offline()) return;
    event.preventDefault();
    lookUp(codeOf(form));
  });

  // A request that got no answer although the browser thinks it is online (the server or the
  // line to it is down): app.js says so and keeps the typed code; from then on the counter is
  // offline — the next Enter looks the code up here — until the server answers again.
  document.addEventListener("htmx:sendError", function (event) {
    if (counterForm(event.detail.elt)) unreachable();
  });

  // Syncing ----------------------------------------------------------------------------------
  function csrfToken() {
    var meta = document.querySelector("meta[name='csrf-token']");
    return meta ? meta.content : "";
  }

  function sync() {
    if (state.syncing || offline()) return Promise.resolve();
    state.syncing = true;
    return all("queue").then(function (records) {
      var mine = records.filter(function (r) {
        return r.state === "pending" && r.store === cfg.store && r.clerk === cfg.account;
      }).sort(function (a, b) { return a.at < b.at ? -1 : 1; });
      var others = records.filter(function (r) {
        return r.state === "pending" && r.store === cfg.store && r.clerk !== cfg.account;
      }).length;
      if (!mine.length) return others ? said(0, others) : null;
      var synced = 0;
      var batches = [];
      for (var i = 0; i < mine.length; i += BATCH) batches.push(mine.slice(i, i + BATCH));
      return batches.reduce(function (chain, batch) {
        return chain.then(function () {
          return send(batch).then(function (n) { synced += n; });
        });
      }, Promise.resolve()).then(function () { said(synced, others); });
    }).then(function () { state.syncing = false; show(); }, function (error) {
      state.syncing = false;
      if (error && error.message === M.loginAgain) {
        syncBox.dataset.state = "login";
        sayInPanel(M.loginAgain, "alert alert-warning");
      }
      show();
    });
  }

  function send(batch) {
    var body = {
      device: DEVICE,
      entries: batch.map(function (r) {
        return {key: r.key, ticket_id: r.ticket_id, at: r.at, clerk: r.clerk, snapshot_at: r.snapshot_at,
          proof: r.proof};
      }),
    };
    return fetch(cfg.syncUrl, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify(body),
    }).then(function (response) {
      if (response.status === 401 || loggedOut(response)) throw new Error(M.loginAgain);
      reachable();
      if (!response.ok) throw new Error("sync refused: " + response.status);
      return response.json();
    }, function (error) {
      unreachable();
      throw error;
    }).then(function (answer) {
      var byKey = {};
      batch.forEach(function (r) { byKey[r.key] = r; });
      var synced = 0;
      return Promise.all((answer.results || []).map(function (result) {
        var record = byKey[result.key];
        if (!record) return null;
        if (result.outcome === "synced") {
          synced += 1;
          return remove("queue", record.key);
        }
        if (result.outcome === "conflict") {
          record.state = "conflict";
          record.message = result.message;
          record.conflict = result.conflict;
          record.conflict_label = result.conflict_label;
          record.serial = result.serial;
          record.product = result.product || record.product;
          return put("queue", record);
        }
        return null; // skipped: another clerk's, left for that clerk
      })).then(function () { return synced; });
    });
  }

  function sayInPanel(message, className) {
    var old = syncBox.querySelector("[data-offline-said]");
    if (old) old.remove();
    var line = element("div", className || "alert alert-success py-2 mb-2", message);
    line.setAttribute("data-offline-said", "");
    line.setAttribute("data-testid", "offline-synced");
    syncBox.insertBefore(line, syncBox.firstChild);
  }

  function said(synced, others) {
    var parts = [];
    if (synced) parts.push("已同步 " + synced + " 筆離線核銷");
    if (others) parts.push("另有 " + others + " 筆由其他帳號離線核銷，待該帳號登入後同步");
    if (parts.length) sayInPanel(parts.join("；"), "alert alert-success py-2 mb-2");
    syncBox.dataset.state = "synced";
  }

  // The installable page ---------------------------------------------------------------------
  function install() {
    if (!document.querySelector("link[rel='manifest']")) {
      var link = document.createElement("link");
      link.rel = "manifest";
      link.href = cfg.manifestUrl;
      document.head.appendChild(link);
    }
    if (!("serviceWorker" in navigator)) return;
    var scope = cfg.workerUrl.replace(/[^/]*$/, "");
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "kept") panel.dataset.shell = "kept";
    });
    navigator.serviceWorker.register(cfg.workerUrl, {scope: scope}).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      var urls = [window.location.pathname];
      document.querySelectorAll("script[src], link[rel='stylesheet'][href], link[rel='icon'][href]").forEach(function (node) {
        urls.push(node.getAttribute("src") || node.getAttribute("href"));
      });
      document.querySelectorAll("[data-scanner-src]").forEach(function (node) { urls.push(node.dataset.scannerSrc); });
      state.worker = registration.active; // this page may not be its client yet
      if (registration.active) registration.active.postMessage({type: "keep", urls: urls});
    }).catch(function () { /* no worker: the page still redeems offline while it stays open */ });
  }

  // Logging out here: the device is no longer this clerk's counter. This clerk's snapshot and
  // the kept page are forgotten (nothing to redeem from, no page to open without a network);
  // redemptions not yet synced stay, for this clerk to sync at the next login. The worker does
  // it (it outlives this page, which is leaving); without one, the page starts it itself.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.action || new URL(form.action, window.location.href).pathname !== cfg.logoutUrl) return;
    var worker = state.worker || (navigator.serviceWorker && navigator.serviceWorker.controller);
    if (worker) worker.postMessage({type: "forget", scope: SCOPE});
    else remove("snapshots", SCOPE);
  }, true);

  // Start ------------------------------------------------------------------------------------
  window.addEventListener("online", function () {
    reachable();
    show();
    sync().then(fetchSnapshot);
  });
  window.addEventListener("offline", show);

  install();
  loadKept().then(function () {
    if (!offline()) return fetchSnapshot().then(sync);
    return null;
  }).catch(function () { refuseSnapshot(M.noSnapshot); });
  window.setInterval(function () {
    if (offline()) {
      if (state.snapshot) usable();
      return;
    }
    fetchSnapshot().then(sync);
  }, cfg.refresh);
})();
