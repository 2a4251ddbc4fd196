// Forms on a phone (issue 16, item 3).
//
// 1. A confirm box (data-confirm, app.js) comes only after the browser's own checks pass
//    (required, pattern, a checkbox group marked data-require-one): this listener runs on the
//    window in the capture phase, before app.js's on the document, and stops the click there.
// 2. The first error is where the consumer looks: a page shown again with errors opens at the
//    first one (app.js does so for fields; an error box without a field counts too), and so does
//    an HTMX fragment that brings a new error (only a new one: a polling swap leaves the page be).
(function () {
  "use strict";

  const ERRORS = ".is-invalid, [data-testid='form-error'], .alert-danger[role='alert'][data-testid$='-error']";
  const seen = new WeakSet();

  function checkGroups(form) {
    form.querySelectorAll("[data-require-one]").forEach(function (group) {
      const boxes = group.querySelectorAll("input[type='checkbox']");
      if (!boxes.length) return;
      const any = Array.prototype.some.call(boxes, function (box) { return box.checked; });
      boxes[0].setCustomValidity(any ? "" : group.dataset.requireOne);
    });
  }

  window.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-confirm]");
    if (!button || !button.form || button.type !== "submit") return;
    checkGroups(button.form);
    if (button.form.checkValidity()) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    button.form.reportValidity();
  }, true);

  document.addEventListener("change", function (event) {
    const group = event.target.closest && event.target.closest("[data-require-one]");
    if (group && group.closest("form")) checkGroups(group.closest("form"));
  });

  function show(error) {
    error.scrollIntoView({block: "center"});
    const field = error.matches("input, select, textarea") ? error
      : error.querySelector("input:not([type='hidden']), select, textarea");
    if (field) field.focus({preventScroll: true});
  }

  function errors() {
    const main = document.querySelector("main") || document.body;
    return Array.prototype.slice.call(main.querySelectorAll(ERRORS));
  }

  // Images (a banner, product pictures) load after the first scroll and push the error down:
  // it is shown again once they are in, unless the consumer has moved the page meanwhile.
  let moved = false;
  ["wheel", "touchmove", "keydown", "pointerdown"].forEach(function (type) {
    window.addEventListener(type, function () { moved = true; }, {capture: true, passive: true});
  });

  document.addEventListener("DOMContentLoaded", function () {
    const all = errors();
    all.forEach(function (e) { seen.add(e); });
    if (!all.length) return;
    const first = all.find(function (e) { return e.matches(".is-invalid, [data-testid='form-error']"); })
      || all[0];
    if (first === all[0] && !first.matches(".is-invalid, [data-testid='form-error']")) show(first);
    window.addEventListener("load", function () { if (!moved) show(first); });
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const trigger = (event.detail.elt && event.detail.elt.getAttribute("hx-trigger")) || "";
    if (/^(every|load)/.test(trigger)) return;  // a polling row: no jumping around
    const fresh = errors().filter(function (e) { return !seen.has(e); });
    fresh.forEach(function (e) { seen.add(e); });
    if (!fresh.length) return;
    const field = fresh.find(function (e) { return e.classList.contains("is-invalid"); });
    show(field || fresh[0]);
  });
})();
