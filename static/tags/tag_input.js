/* Tag name inputs in the admin: suggest existing tags as the name is typed (the server folds
   case, spaces and the kind of dash, so "course - paid" finds "Course – Paid"), and say when
   the name typed will create a new tag. Any <input data-tag-input data-suggest-url="...">
   (or a page's <meta name="tag-suggest-url">),
   also ones an htmx swap adds later; data-tag-input="many" takes a list (, or ;) and
   suggests for the name being typed; data-tag-new="no" where a name must be an existing tag. */
(function () {
  "use strict";
  var DELAY_MS = 150;
  var timers = new WeakMap();
  var boxes = new WeakMap();

  function lastCut(input) {
    // Where the name being typed starts: after the last "," or ";" of a list.
    if (input.dataset.tagInput !== "many") return 0;
    return Math.max(input.value.lastIndexOf(","), input.value.lastIndexOf(";")) + 1;
  }

  function current(input) {
    return input.value.slice(lastCut(input)).trim();
  }

  function choose(input, name) {
    var cut = lastCut(input);
    input.value = input.value.slice(0, cut) + (cut ? " " : "") + name;
    var box = boxes.get(input);
    box.list.hidden = true;
    box.list.innerHTML = "";
    hint(input, {match: name, results: []});
    input.dispatchEvent(new Event("change", {bubbles: true}));
    input.focus();
  }

  function hint(input, data) {
    var box = boxes.get(input), typed = current(input);
    if (!typed) { box.hint.textContent = ""; box.hint.className = "tag-input-hint"; return; }
    if (data.match) {
      box.hint.textContent = "Existing tag: " + data.match;
      box.hint.className = "tag-input-hint tag-input-existing";
    } else if (input.dataset.tagNew === "no") {
      box.hint.textContent = "“" + typed + "” is not a tag.";
      box.hint.className = "tag-input-hint tag-input-new";
    } else {
      box.hint.textContent = "“" + typed + "” is not a tag yet: it will be created.";
      box.hint.className = "tag-input-hint tag-input-new";
    }
  }

  function show(input, data) {
    var box = boxes.get(input);
    box.list.innerHTML = "";
    data.results.forEach(function (tag, index) {
      var option = document.createElement("li");
      option.setAttribute("role", "option");
      option.id = box.list.id + "-" + index;
      option.textContent = tag.name;
      option.dataset.name = tag.name;
      option.addEventListener("mousedown", function (event) {
        event.preventDefault();  // keep the focus in the input
        choose(input, tag.name);
      });
      box.list.appendChild(option);
    });
    box.list.hidden = data.results.length === 0;
    box.active = -1;
    hint(input, data);
  }

  function ask(input) {
    var typed = current(input), box = boxes.get(input);
    if (!typed) { show(input, {results: []}); return; }
    var meta = document.querySelector('meta[name="tag-suggest-url"]');
    var base = input.dataset.suggestUrl || (meta && meta.content);
    if (!base) return;
    var url = base + "?q=" + encodeURIComponent(typed);
    fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && current(input) === typed) show(input, data);
      })
      .catch(function () { box.hint.textContent = ""; });
  }

  function enhance(input) {
    if (boxes.has(input)) return;
    if (input.hasAttribute("list")) input.removeAttribute("list");  // ours replaces the datalist
    input.setAttribute("autocomplete", "off");
    var wrap = document.createElement("span");
    wrap.className = "tag-input";
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    var list = document.createElement("ul");
    list.className = "tag-input-list";
    list.setAttribute("role", "listbox");
    list.id = "tag-input-" + Math.random().toString(36).slice(2);
    list.hidden = true;
    var note = document.createElement("span");
    note.className = "tag-input-hint";
    note.setAttribute("aria-live", "polite");
    wrap.appendChild(list);
    wrap.appendChild(note);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-autocomplete", "list");
    boxes.set(input, {list: list, hint: note, active: -1});
  }

  function move(input, step) {
    var box = boxes.get(input), options = box.list.querySelectorAll("li");
    if (!options.length) return;
    box.active = (box.active + step + options.length) % options.length;
    options.forEach(function (option, index) {
      option.classList.toggle("active", index === box.active);
    });
    input.setAttribute("aria-activedescendant", options[box.active].id);
  }

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input[data-tag-input]")) enhance(event.target);
  });
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[data-tag-input]")) return;
    enhance(input);
    clearTimeout(timers.get(input));
    timers.set(input, setTimeout(function () { ask(input); }, DELAY_MS));
  });
  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[data-tag-input]") || !boxes.has(input)) return;
    var box = boxes.get(input);
    if (box.list.hidden) return;
    if (event.key === "ArrowDown") { event.preventDefault(); move(input, 1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); move(input, -1); }
    else if (event.key === "Enter" && box.active >= 0) {
      event.preventDefault();
      choose(input, box.list.querySelectorAll("li")[box.active].dataset.name);
    } else if (event.key === "Escape") { box.list.hidden = true; }
  });
  document.addEventListener("focusout", function (event) {
    var input = event.target;
    if (boxes.has(input)) setTimeout(function () { boxes.get(input).list.hidden = true; }, 150);
  });
})();
