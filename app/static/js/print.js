// A button marked data-print-page prints the page (the print styles in app.css drop the menu).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print-page]")) window.print();
});
