// The import progress page follows the import by polling its status (no inline script: CSP).
(function () {
  var box = document.getElementById("import-progress");
  var bar = document.getElementById("import-progress-bar");
  function poll() {
    fetch(box.dataset.statusUrl, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        bar.value = s.percent;
        bar.setAttribute("aria-valuenow", s.percent);
        document.getElementById("import-percent").textContent = s.percent + " %";
        document.getElementById("import-rows").textContent = s.rows_done;
        document.getElementById("import-status").textContent = s.status_label;
        if (s.status === "done") { window.location.reload(); }
        else { setTimeout(poll, parseInt(box.dataset.pollMs, 10)); }
      })
      .catch(function () { setTimeout(poll, 5 * parseInt(box.dataset.pollMs, 10)); });
  }
  setTimeout(poll, parseInt(box.dataset.pollMs, 10));
})();
