// Copy buttons: <button data-copy="text">. Copies with the Clipboard API (a hidden textarea and
// execCommand where it is missing or refused, e.g. over plain http) and says 已複製 on the button.
(function () {
  if (window.ectixCopy) return;  // loaded once, whatever page included it
  window.ectixCopy = true;

  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallback(text); });
    }
    return fallback(text);
  }

  function say(button, message, ok) {
    var note = button.querySelector(".copy-feedback");
    if (!note) {
      note = document.createElement("span");
      note.className = "copy-feedback ms-1";
      note.setAttribute("role", "status");
      button.appendChild(note);
    }
    note.textContent = message;
    button.classList.toggle("btn-outline-success", ok);
    clearTimeout(button._copyTimer);
    button._copyTimer = setTimeout(function () {
      note.textContent = "";
      button.classList.remove("btn-outline-success");
    }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    event.preventDefault();
    copy(button.getAttribute("data-copy")).then(
      function () { say(button, "已複製", true); },
      function () { say(button, "無法複製，請手動選取", false); });
  });
})();
