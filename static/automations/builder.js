// The builder's own behaviour, as a file: the Content-Security-Policy allows no inline script.
// Cancel in a step picker or a new step's form closes it.
document.addEventListener("click", function (event) {
  var cancel = event.target.closest('[data-action="slot-cancel"]');
  if (cancel) {
    cancel.closest(".slot-body").innerHTML = "";
  }
});
