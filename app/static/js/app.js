// Confirmation dialogs for buttons marked data-confirm (works with and without HTMX).
document.addEventListener("click", function (event) {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// The page's scripts have run and HTMX has taken over its forms (HTMX starts on this same event,
// registered by its file before this one): from now on a scanner's keystrokes go through HTMX.
document.addEventListener("DOMContentLoaded", function () {
  document.documentElement.dataset.ready = "true";
});

// A page shown again with a form's errors (a refused post) opens at the first error, not at the
// top: on a phone the menu and a long table would otherwise hide it. The field gets the focus.
document.addEventListener("DOMContentLoaded", function () {
  const error = document.querySelector("main .is-invalid, main [data-testid='form-error']");
  if (!error) return;
  error.scrollIntoView({block: "center"});
  if (error.matches("input, select, textarea")) error.focus({preventScroll: true});
});

// Every failed HTMX request, on every page, is handled here and only here (HTMX 2 events):
// - 401, or an answer that turned out to be the login page: the session has expired; go to the
//   login page and come back to this page after logging in (the server's 401 carries HX-Redirect
//   too, which HTMX follows before this handler runs);
// - any other error status (400, 5xx...), no connection, or no answer in time: a banner in the
//   fixed region of base.html (_request_error.html). Nothing is swapped, so what the user typed
//   stays in its field. Answers a page chose to swap (the counter's refusals) are not errors.
(function () {
  "use strict";
  var LOGIN_PATH = "/login";
  var MESSAGES = {
    400: "送出的資料無法處理（可能是頁面已開啟太久），請重新整理頁面後再試。",
    403: "您沒有使用此功能的權限。",
    404: "找不到此頁面或資料，請重新整理頁面後再試。",
    413: "上傳的檔案太大。",
    429: "操作太頻繁，請稍後再試。",
  };
  var SERVER_ERROR = "系統發生錯誤，您輸入的內容仍保留在頁面上，請稍後再試。";
  var NETWORK_ERROR = "無法連線到伺服器，請確認網路連線後再試；您輸入的內容仍保留在頁面上。";
  var TIMEOUT = "伺服器沒有回應，請稍後再試；您輸入的內容仍保留在頁面上。";

  function loginAgain() {
    var here = window.location.pathname + window.location.search;
    window.location.assign(LOGIN_PATH + "?next=" + encodeURIComponent(here));
  }

  function region() {
    return document.getElementById("request-error");
  }

  function hide() {
    var box = region();
    var shown = box && box.querySelector("[data-testid='request-error']");
    if (shown) shown.remove();
  }

  function show(message) {
    var box = region();
    if (!box) return;
    hide();
    var alert = box.querySelector("template").content.firstElementChild.cloneNode(true);
    alert.querySelector("[data-request-error-message]").textContent = message;
    box.appendChild(alert);
  }

  function isLoginPage(xhr) {
    try {
      return new URL(xhr.responseURL).pathname === LOGIN_PATH;
    } catch (e) {
      return false;
    }
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-request-error-close]")) hide();
  });

  document.addEventListener("htmx:beforeRequest", hide);

  // A redirect to the login page that the browser followed inside the request.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status < 400 && isLoginPage(event.detail.xhr)) {
      event.detail.shouldSwap = false;
      loginAgain();
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    if (status === 401) {
      loginAgain();
      return;
    }
    var message = status >= 500 ? SERVER_ERROR : MESSAGES[status];
    show((message || "操作未完成，請重新整理頁面後再試。") + "（HTTP " + status + "）");
  });

  document.addEventListener("htmx:sendError", function () { show(NETWORK_ERROR); });
  document.addEventListener("htmx:timeout", function () { show(TIMEOUT); });
})();
