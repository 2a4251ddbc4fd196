// Confirmation dialogs for buttons marked data-confirm (works with and without HTMX).
document.addEventListener("click", function (event) {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// A page shown again with a form's errors (a refused post) opens at the first error, not at the
// top: on a phone the menu and a long table would otherwise hide it. The field gets the focus.
document.addEventListener("DOMContentLoaded", function () {
  const error = document.querySelector("main .is-invalid, main [data-testid='form-error']");
  if (!error) return;
  error.scrollIntoView({block: "center"});
  if (error.matches("input, select, textarea")) error.focus({preventScroll: true});
});
