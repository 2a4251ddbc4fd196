// Submits a form marked data-autosubmit once the page is shown (the cashier's posted result to
// the merchant's OrderResultURL). Its visible button does the same without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-autosubmit]");
  if (form && !form.dataset.submitted) {
    form.dataset.submitted = "1";
    form.submit();
  }
});
