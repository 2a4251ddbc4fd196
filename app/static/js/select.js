// Select-all boxes and selection counters, declared in markup (no inline handlers under the CSP):
//   <input type="checkbox" data-check-all=".ticket-check">  ticks or clears every box it names
//   <span data-checked-count=".ticket-check">0</span>       shows how many of them are ticked
(function () {
  "use strict";

  function refreshCounts() {
    document.querySelectorAll("[data-checked-count]").forEach(function (counter) {
      counter.textContent = document.querySelectorAll(counter.dataset.checkedCount + ":checked").length;
    });
  }

  document.addEventListener("change", function (event) {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || box.type !== "checkbox") return;
    if (box.dataset.checkAll) {
      document.querySelectorAll(box.dataset.checkAll).forEach(function (other) {
        if (!other.disabled) other.checked = box.checked;
      });
    }
    refreshCounts();
  });
  document.addEventListener("DOMContentLoaded", function () {
    // a box ticked before this file ran (a fast click while the page loaded) still counts
    document.querySelectorAll("input[data-check-all]:checked").forEach(function (box) {
      box.dispatchEvent(new Event("change", {bubbles: true}));
    });
    refreshCounts();
  });
  document.addEventListener("htmx:afterSettle", refreshCounts);
})();
