// The Webhook Generator's Copy buttons (a file: the Content-Security-Policy allows no inline
// script).
document.addEventListener("click", function (event) {
  var button = event.target.closest("button.copy-url");
  if (!button) {
    return;
  }
  var field = document.getElementById(button.dataset.copy);
  navigator.clipboard.writeText(field.value).then(function () {
    button.textContent = "Copied";
  });
});
