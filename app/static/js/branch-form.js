// Ask before saving a branch as disabled (停用) when it was enabled (or is new): the save button
// carries the question in data-confirm, which app.js asks before submitting.
(function () {
  "use strict";
  const select = document.getElementById("status");
  const save = document.getElementById("branch-save");
  if (!select || !save) return;
  function sync() {
    if (select.value === "disabled" && select.dataset.wasEnabled === "1") {
      save.dataset.confirm = select.dataset.disableWarning + "，確定要停用嗎？";
    } else {
      delete save.dataset.confirm;
    }
  }
  select.addEventListener("change", sync);
  sync();
})();
