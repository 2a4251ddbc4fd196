// Counter pages (票券核銷 / 取消核銷 / 退貨 / 取消退貨): keyboard and barcode-scanner first.
// The server answers refusals with their real status (403, 404, 409, 422, 429) and the counter
// area as the body; HTMX does not swap 4xx answers by default, so let these through.
(function () {
  "use strict";
  var SWAPPED = [403, 404, 409, 422, 429];

  function codeField() {
    return document.querySelector("[data-counter-code]");
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.closest("[data-counter]") && SWAPPED.indexOf(event.detail.xhr.status) >= 0) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // A code left in the field (a refused lookup) is selected, so the next scan replaces it.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-counter-code]")) {
      event.target.select();
    }
  });

  // Typing or scanning while the focus is on a button (e.g. 【核銷】 under a card) goes to the
  // code field: the next customer's code is never lost.
  document.addEventListener("keydown", function (event) {
    var field = codeField();
    if (!field || event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) {
      return;
    }
    var active = document.activeElement;
    if (active && (active.matches("input, textarea, select, [contenteditable]"))) {
      return;
    }
    if (event.key === " " && active && active.matches("button, a")) {
      return; // space presses the focused button
    }
    field.value = "";
    field.focus();
  });

  document.addEventListener("DOMContentLoaded", function () {
    var field = codeField();
    if (field && document.activeElement === field) {
      field.select();
    }
  });
})();

// Sounds (Web Audio, no files): a short rising tone when a code is found or an action is done, a
// low one on a refusal (the answer's data-counter-result, set by the page) or a failed request
// (the banner of app.js). Typed, scanner-gun and camera codes alike. The switch is remembered.
(function () {
  "use strict";
  var MUTED_KEY = "ectix.counter.muted";
  var TONES = {
    success: {type: "sine", volume: 0.25, notes: [[880, 0.08], [1320, 0.14]]},
    refusal: {type: "square", volume: 0.08, notes: [[220, 0.16], [165, 0.3]]},
  };
  var Context = window.AudioContext || window.webkitAudioContext;
  var audio = null;
  var mutedHere = muted();

  function muted() { // the stored switch
    try {
      return window.localStorage.getItem(MUTED_KEY) === "1";
    } catch (e) {
      return false;
    }
  }

  function setMuted(value) {
    try {
      if (value) window.localStorage.setItem(MUTED_KEY, "1");
      else window.localStorage.removeItem(MUTED_KEY);
    } catch (e) { /* private mode: the switch lasts for this page only */ }
    mutedHere = value;
  }

  function context() {
    if (!Context) return null;
    if (!audio) {
      try {
        audio = new Context();
      } catch (e) {
        return null;
      }
    }
    if (audio.state === "suspended" && audio.resume) audio.resume().catch(function () {});
    return audio;
  }

  function play(name) {
    var tone = TONES[name];
    if (!tone || mutedHere) return;
    var ctx = context();
    if (!ctx) return;
    var at = ctx.currentTime + 0.02;
    tone.notes.forEach(function (note) {
      var oscillator = ctx.createOscillator();
      var gain = ctx.createGain();
      oscillator.type = tone.type;
      oscillator.frequency.value = note[0];
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(tone.volume, at + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + note[1]);
      oscillator.connect(gain);
      gain.connect(ctx.destination);
      oscillator.start(at);
      oscillator.stop(at + note[1] + 0.02);
      at += note[1];
    });
  }

  function inCounter(event) {
    var target = event.detail && event.detail.target;
    return Boolean(target && target.closest && target.closest("[data-counter]"));
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!inCounter(event)) return;
    var answer = event.detail.target.querySelector("[data-counter-result]");
    if (answer && answer.dataset.counterResult) play(answer.dataset.counterResult);
  });

  // What app.js shows as a banner for the counter (a 401 goes to the login page: no sound).
  document.addEventListener("htmx:responseError", function (event) {
    if (inCounter(event) && event.detail.xhr.status !== 401) play("refusal");
  });
  ["htmx:sendError", "htmx:timeout"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      if (inCounter(event)) play("refusal");
    });
  });

  // Browsers start sound only after the user has touched the page: wake it on the first touch.
  function wake() {
    if (!mutedHere) context();
    document.removeEventListener("pointerdown", wake, true);
    document.removeEventListener("keydown", wake, true);
  }
  document.addEventListener("pointerdown", wake, true);
  document.addEventListener("keydown", wake, true);

  function showSwitch(button) {
    button.querySelector("[data-sound-label]").textContent = mutedHere ? "提示音：關" : "提示音：開";
    var icon = button.querySelector("[data-sound-icon]");
    icon.classList.toggle("bi-volume-up-fill", !mutedHere);
    icon.classList.toggle("bi-volume-mute-fill", mutedHere);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector("[data-sound-toggle]");
    if (!button || !Context) return;
    showSwitch(button);
    button.hidden = false;
    button.addEventListener("click", function () {
      setMuted(!mutedHere);
      if (!mutedHere) context(); // a touch: the moment a browser lets sound start
      showSwitch(button);
    });
  });
})();
