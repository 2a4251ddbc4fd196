// Counter pages: scanning the QR code of a ticket with the phone's or tablet's camera.
// A decoded code goes into the page's one code field and the lookup form is submitted as if it had
// been typed, so the server sees the same request as from the keyboard or a scanner gun. The
// decoder (@zxing/browser, vendored) is loaded only when the camera is opened. Scanning stops
// while any counter request is pending and stays paused after its answer until the clerk presses
// 「繼續掃描」. The panel's data-camera-state says where it is:
// closed, starting, scanning, pending, paused, failed.
(function () {
  "use strict";
  var CONSTRAINTS = {
    audio: false,
    video: {facingMode: {ideal: "environment"}, width: {ideal: 1280}, height: {ideal: 720}},
  };
  var MISSES_TO_FORGET = 4; // frames without the last code before it may be read again
  var SAY = {
    starting: "正在開啟相機…",
    scanning: "請將票券的 QR Code 對準鏡頭",
    pending: "已讀取核銷代碼，查詢中…",
    pendingTyped: "查詢中，暫停掃描…",
    paused: "請確認下方結果；要掃描下一張請按「繼續掃描」",
    denied: "無法使用相機：相機權限被拒絕。請在瀏覽器的網站設定中允許此網站使用相機，或改用鍵盤、掃描槍輸入核銷代碼。",
    missing: "找不到可用的相機。請改用鍵盤或掃描槍輸入核銷代碼。",
    busy: "相機正被其他程式使用中，請關閉其他使用相機的程式後再試。",
    insecure: "此連線不允許使用相機（需要 HTTPS）。請改用鍵盤或掃描槍輸入核銷代碼。",
    library: "相機掃描元件載入失敗，請重新整理頁面後再試。",
    other: "無法開啟相機，請改用鍵盤或掃描槍輸入核銷代碼。",
  };

  var panel, video, status, openButton, continueButton;
  var state = "closed";
  var stream = null;
  var loop = null; // the decoder's scan loop (its stop())
  var reader = null;
  var lastCode = null;
  var misses = 0;

  function supported() {
    return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }

  function setState(next, message) {
    state = next;
    panel.dataset.cameraState = next;
    status.textContent = message;
    status.classList.toggle("text-danger", next === "failed");
    continueButton.hidden = next !== "paused";
  }

  function stopLoop() {
    if (loop) {
      loop.stop();
      loop = null;
    }
  }

  function stopStream() {
    stopLoop();
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
    video.srcObject = null;
  }

  function loadDecoder() {
    if (window.ZXingBrowser) return Promise.resolve();
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = panel.dataset.scannerSrc;
      script.addEventListener("load", function () { resolve(); });
      script.addEventListener("error", function () { reject(new Error("decoder")); });
      document.head.appendChild(script);
    });
  }

  function problem(error) {
    var name = error && error.name;
    if (error && error.message === "decoder") return SAY.library;
    if (name === "NotAllowedError" || name === "PermissionDeniedError") return SAY.denied;
    if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") return SAY.missing;
    if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") return SAY.busy;
    if (name === "SecurityError") return SAY.insecure;
    return SAY.other;
  }

  function fail(error) {
    stopStream();
    setState("failed", problem(error));
  }

  function open() {
    if (state !== "closed") return;
    lastCode = null; // opened on purpose: any code may be read, the last one too
    panel.hidden = false;
    openButton.setAttribute("aria-expanded", "true");
    openButton.hidden = true;
    setState("starting", SAY.starting);
    panel.scrollIntoView({block: "nearest"});
    navigator.mediaDevices.getUserMedia(CONSTRAINTS)
      .then(function (opened) {
        if (state !== "starting") { // closed meanwhile
          opened.getTracks().forEach(function (track) { track.stop(); });
          return null;
        }
        stream = opened;
        video.srcObject = opened;
        return video.play().then(loadDecoder).then(function () {
          if (state !== "starting") return;
          reader = reader || new window.ZXingBrowser.BrowserQRCodeReader(undefined, {
            delayBetweenScanAttempts: 150, delayBetweenScanSuccess: 500,
          });
          scan();
        });
      })
      .catch(function (error) {
        if (state === "starting") fail(error);
      });
  }

  function scan() {
    setState("scanning", SAY.scanning);
    loop = reader.scan(video, function (result, error, controls) {
      if (state !== "scanning") return;
      if (!result) {
        misses += 1;
        if (misses >= MISSES_TO_FORGET) lastCode = null;
        return;
      }
      misses = 0;
      var code = result.getText().trim();
      if (!code || code === lastCode) return; // the ticket just answered, still in front of the lens
      controls.stop();
      loop = null;
      read(code);
    });
  }

  function read(code) {
    var field = document.querySelector("[data-counter-code]");
    var form = field && field.form;
    lastCode = code;
    if (!form) return;
    field.value = code;
    setState("pending", SAY.pending);
    if (form.requestSubmit) form.requestSubmit();
    else form.querySelector("[type='submit']").click();
  }

  function close() {
    stopStream();
    panel.hidden = true;
    openButton.hidden = false;
    openButton.setAttribute("aria-expanded", "false");
    setState("closed", "");
    var field = document.querySelector("[data-counter-code]");
    if (field) field.focus();
  }

  function inCounter(event) {
    var target = event.detail && event.detail.target;
    return Boolean(target && target.closest && target.closest("[data-counter]"));
  }

  // Any counter request (a camera code, a typed one, the card's button) pauses the scanning...
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!inCounter(event) || !panel || (state !== "scanning" && state !== "paused")) return;
    stopLoop();
    setState("pending", SAY.pendingTyped);
  });

  // ...and its answer, or its failure, leaves it paused until the clerk continues.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (!inCounter(event) || !panel || state !== "pending") return;
    setState("paused", SAY.paused);
  });

  document.addEventListener("DOMContentLoaded", function () {
    panel = document.querySelector("[data-camera]");
    openButton = document.querySelector("[data-camera-open]");
    if (!panel || !openButton) return;
    video = panel.querySelector("[data-camera-video]");
    status = panel.querySelector("[data-camera-status]");
    continueButton = panel.querySelector("[data-camera-continue]");
    if (!supported()) return; // no camera API (or not a secure page): the button stays hidden
    openButton.hidden = false;
    openButton.addEventListener("click", open);
    panel.querySelector("[data-camera-close]").addEventListener("click", close);
    continueButton.addEventListener("click", function () {
      if (state === "paused" && stream) scan();
    });
    // Leaving the page, or the browser going to the background on a phone, lets the camera go.
    window.addEventListener("pagehide", function () {
      if (state !== "closed") close();
    });
    document.addEventListener("visibilitychange", function () {
      if (document.hidden && state !== "closed") close();
    });
  });
})();
