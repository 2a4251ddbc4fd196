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
