// The broadcast audience builder (apps/crm/audience.py): groups of rules joined by AND / OR,
// written into the hidden input as the tags compiler's condition JSON, with a live count.
(function () {
  "use strict";
  var DEBOUNCE_MS = 350;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  function select(cls, options, value, label) {
    var s = el("select", { class: cls, "aria-label": label });
    options.forEach(function (o) {
      var opt = el("option", { value: String(o.value), text: o.label });
      if (String(o.value) === String(value)) opt.selected = true;
      s.appendChild(opt);
    });
    return s;
  }

  // A condition -> {join, groups: [{join, rules}]}, or null when the builder cannot show it.
  function ruleOf(node) {
    var op = Object.keys(node)[0], arg = node[op];
    if (op === "has" || op === "has_not") return { type: op, tag: arg };
    if (op === "state") return { type: "state", state: arg };
    if (op === "field") return { type: "field", key: arg.key, op: arg.op, value: arg.value || "" };
    if (op === "not" && Object.keys(arg)[0] === "has") return { type: "has_not", tag: arg.has };
    return null;
  }
  function isLeaf(node) { return ruleOf(node) !== null; }
  function groupOf(node) {
    if (isLeaf(node)) return { join: "and", rules: [ruleOf(node)] };
    var op = Object.keys(node)[0];
    if ((op === "and" || op === "or") && node[op].every(isLeaf)) {
      return { join: op, rules: node[op].map(ruleOf) };
    }
    return null;
  }
  function parse(condition) {
    if (!condition) return { join: "and", groups: [] };
    var single = groupOf(condition);
    if (single) return { join: "and", groups: [single] };
    var op = Object.keys(condition)[0];
    if (op !== "and" && op !== "or") return null;
    var groups = condition[op].map(groupOf);
    if (groups.some(function (g) { return g === null; })) return null;
    return { join: op, groups: groups };
  }

  function leaf(rule) {
    if (rule.type === "has" || rule.type === "has_not") {
      var o = {}; o[rule.type] = Number(rule.tag); return o;
    }
    if (rule.type === "state") return { state: rule.state };
    var f = { key: rule.key, op: rule.op };
    if (rule.op !== "is_set" && rule.op !== "is_blank") f.value = rule.value;
    return { field: f };
  }
  function compile(model) {
    var groups = model.groups.filter(function (g) { return g.rules.length; }).map(function (g) {
      if (g.rules.length === 1) return leaf(g.rules[0]);
      var o = {}; o[g.join] = g.rules.map(leaf); return o;
    });
    if (!groups.length) return null;
    if (groups.length === 1) return groups[0];
    var top = {}; top[model.join] = groups; return top;
  }

  function Builder(root) {
    this.root = root;
    this.input = document.getElementById(root.dataset.input);
    this.options = JSON.parse(document.getElementById(root.dataset.options).textContent);
    this.countUrl = root.dataset.countUrl;
    this.countEl = root.querySelector(".audience-count");
    this.groupsEl = root.querySelector(".audience-groups");
    this.timer = null;
    this.seq = 0;
    var raw = this.input.value ? JSON.parse(this.input.value) : null;
    this.model = parse(raw);
    if (this.model === null) {
      this.showUnsupported(raw);
    } else {
      this.render();
      this.changed();
    }
  }

  Builder.prototype.newRule = function () {
    var tags = this.options.tags;
    return { type: "has", tag: tags.length ? tags[0].id : "" };
  };

  Builder.prototype.showUnsupported = function (raw) {
    var self = this;
    var start = el("button", { type: "button", class: "button audience-start-over", text: "Start over with the builder" });
    start.addEventListener("click", function () {
      self.model = { join: "and", groups: [] };
      self.render();
      self.changed();
    });
    this.groupsEl.replaceChildren(
      el("p", { class: "audience-unsupported", text: "This audience was set through the API in a shape the builder cannot draw; it is kept as it is unless you start over:" }),
      el("pre", { text: JSON.stringify(raw, null, 2) }),
      start
    );
    this.count();
  };

  Builder.prototype.render = function () {
    var self = this, model = this.model;
    var nodes = [];
    model.groups.forEach(function (group, gi) {
      if (gi > 0) {
        var join = select("audience-join", [{ value: "and", label: "AND" }, { value: "or", label: "OR" }], model.join, "How groups combine");
        join.addEventListener("change", function () { model.join = join.value; self.render(); self.changed(); });
        nodes.push(el("div", { class: "audience-join-row" }, [join]));
      }
      nodes.push(self.renderGroup(group, gi));
    });
    var addGroup = el("button", { type: "button", class: "button audience-add-group", text: model.groups.length ? "+ Add a group" : "+ Add a rule" });
    addGroup.addEventListener("click", function () {
      model.groups.push({ join: "or", rules: [self.newRule()] });
      self.render();
      self.changed();
    });
    nodes.push(addGroup);
    this.groupsEl.replaceChildren.apply(this.groupsEl, nodes);
  };

  Builder.prototype.renderGroup = function (group, gi) {
    var self = this;
    var box = el("fieldset", { class: "audience-group", "data-group": String(gi) });
    var legend = el("legend", {}, [el("span", { text: "Group " + (gi + 1) + ": match " })]);
    var join = select("audience-group-join", [{ value: "or", label: "any (OR)" }, { value: "and", label: "all (AND)" }], group.join, "How rules in this group combine");
    join.addEventListener("change", function () { group.join = join.value; self.changed(); });
    legend.appendChild(join);
    box.appendChild(legend);
    group.rules.forEach(function (rule, ri) { box.appendChild(self.renderRule(group, rule, ri)); });
    var add = el("button", { type: "button", class: "button audience-add-rule", text: "+ Add a rule" });
    add.addEventListener("click", function () { group.rules.push(self.newRule()); self.render(); self.changed(); });
    box.appendChild(add);
    return box;
  };

  Builder.prototype.renderRule = function (group, rule, ri) {
    var self = this, opts = this.options;
    var row = el("div", { class: "audience-rule" });
    var type = select("audience-type", [
      { value: "has", label: "has tag" },
      { value: "has_not", label: "does not have tag" },
      { value: "state", label: "subscriber state is" },
      { value: "field", label: "custom field" }
    ], rule.type, "Rule");
    type.addEventListener("change", function () {
      rule.type = type.value;
      if (rule.type === "state" && !rule.state) rule.state = "active";
      if (rule.type === "field" && !rule.key) { rule.key = opts.fields[0] || ""; rule.op = "equals"; rule.value = ""; }
      if ((rule.type === "has" || rule.type === "has_not") && !rule.tag && opts.tags.length) rule.tag = opts.tags[0].id;
      self.render();
      self.changed();
    });
    row.appendChild(type);
    if (rule.type === "has" || rule.type === "has_not") {
      var tag = select("audience-tag", opts.tags.map(function (t) { return { value: t.id, label: t.name }; }), rule.tag, "Tag");
      tag.addEventListener("change", function () { rule.tag = tag.value; self.changed(); });
      row.appendChild(tag);
    } else if (rule.type === "state") {
      var state = select("audience-state", opts.states, rule.state, "State");
      state.addEventListener("change", function () { rule.state = state.value; self.changed(); });
      row.appendChild(state);
    } else {
      var key = select("audience-field", opts.fields.map(function (k) { return { value: k, label: k }; }), rule.key, "Custom field");
      var op = select("audience-op", opts.ops, rule.op, "Test");
      var value = el("input", { type: "text", class: "audience-value", "aria-label": "Value", value: rule.value || "" });
      value.hidden = rule.op === "is_set" || rule.op === "is_blank";
      key.addEventListener("change", function () { rule.key = key.value; self.changed(); });
      op.addEventListener("change", function () { rule.op = op.value; self.render(); self.changed(); });
      value.addEventListener("input", function () { rule.value = value.value; self.changed(); });
      row.appendChild(key); row.appendChild(op); row.appendChild(value);
    }
    var remove = el("button", { type: "button", class: "audience-remove", title: "Remove this rule", "aria-label": "Remove this rule", text: "×" });
    remove.addEventListener("click", function () {
      group.rules.splice(ri, 1);
      self.model.groups = self.model.groups.filter(function (g) { return g.rules.length; });
      self.render();
      self.changed();
    });
    row.appendChild(remove);
    return row;
  };

  Builder.prototype.changed = function () {
    var condition = compile(this.model);
    this.input.value = condition ? JSON.stringify(condition) : "";
    var self = this;
    clearTimeout(this.timer);
    this.countEl.textContent = "Counting…";
    this.timer = setTimeout(function () { self.count(); }, DEBOUNCE_MS);
  };

  Builder.prototype.count = function () {
    var self = this, seq = ++this.seq;
    if (!this.countUrl) return;
    var url = this.countUrl + "?condition=" + encodeURIComponent(this.input.value);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (seq !== self.seq) return;  // an older answer arriving late
        self.countEl.classList.toggle("errornote", Boolean(data.error));
        self.countEl.dataset.count = data.error ? "" : String(data.count);
        self.countEl.textContent = data.error
          ? data.error
          : data.count + " subscriber" + (data.count === 1 ? "" : "s") + " will receive this broadcast.";
      })
      .catch(function () {
        if (seq === self.seq) self.countEl.textContent = "The count could not be fetched; it is checked again before sending.";
      });
  };

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-audience-builder]").forEach(function (root) { new Builder(root); });
  });
  window.TesseraAudience = { parse: parse, compile: compile };
})();
