/* Herald admin: a visual builder for segment rules (contract section 7), on top of the rules
   textarea. The textarea stays the source of truth for the form and the live preview: every
   change in the builder rewrites it as JSON and fires the same "input" event the preview listens
   to; a hand edit that parses re-renders the builder. No dependencies. */
(function () {
  "use strict";

  var FIELDS = [
    ["email", "Email", "text"],
    ["phone", "Phone", "text"],
    ["first_name", "First name", "text"],
    ["last_name", "Last name", "text"],
    ["locale", "Locale", "text"],
    ["timezone", "Time zone", "text"],
    ["tier", "Tier", "tier"],
    ["points", "Points", "number"],
    ["birthday", "Birthday", "date"],
    ["orders_count", "Orders", "number"],
    ["total_spent", "Total spent", "number"],
    ["last_order_at", "Last order at", "datetime"],
    ["consent.email", "Email consent", "consent"],
    ["consent.sms", "SMS consent", "consent"],
    ["rfm.group", "RFM group", "rfm_group"],
    ["rfm.recency", "RFM recency (1–5)", "number"],
    ["rfm.frequency", "RFM frequency (1–5)", "number"],
    ["rfm.monetary", "RFM monetary (1–5)", "number"],
    ["favourite_category", "Favourite category", "text"],
    ["points_expiring", "Points expiring", "number"],
    ["points_expire_at", "Points expire on", "day"],
    ["referral_code", "Referral code", "text"]
  ];
  var RFM_GROUPS = ["champions", "loyal", "potential", "new", "at_risk", "cant_lose",
    "hibernating", "lost"];
  /* order.placed conditions may also look at the order's contents (contract section 15) */
  var ORDER_KEYS = [
    ["sku", "with product (SKU)", "text", "e.g. TEA-1"],
    ["category", "in category", "text", "e.g. tea"],
    ["min_total", "order total at least", "number", "any"],
    ["min_spent", "spent in total at least", "number", "any"]
  ];
  var OTHER_FIELDS = {external_id: "text", created_at: "datetime", updated_at: "datetime"};
  var EVENTS = [
    ["order.placed", "Placed an order"],
    ["cart.abandoned", "Abandoned a cart"],
    ["email.opened", "Opened an email"],
    ["email.clicked", "Clicked an email"]
  ];
  var TIERS = ["new", "bronze", "silver", "gold", "platinum"];
  var OP_LABELS = {
    eq: "is", ne: "is not", lt: "<", lte: "≤", gt: ">", gte: "≥",
    "in": "is one of", not_in: "is none of", contains: "contains", starts_with: "starts with",
    ends_with: "ends with", is_set: "is set", is_not_set: "is not set", between: "is between",
    within_last_days: "in the last", birthday_within_days: "birthday within"
  };
  var OPERATORS = Object.keys(OP_LABELS);
  var ORDER = ["lt", "lte", "gt", "gte"];
  var TEXT = ["contains", "starts_with", "ends_with"];
  var NO_VALUE = ["is_set", "is_not_set"];
  var OPS_BY_KIND = {
    text: ["eq", "ne"].concat(ORDER, ["in", "not_in"], TEXT, NO_VALUE, ["between"]),
    tier: ["eq", "ne"].concat(ORDER, ["in", "not_in"], NO_VALUE, ["between"]),
    number: ["eq", "ne"].concat(ORDER, ["in", "not_in"], NO_VALUE, ["between"]),
    date: ["eq", "ne"].concat(ORDER, NO_VALUE, ["between", "birthday_within_days"]),
    day: ["eq", "ne"].concat(ORDER, NO_VALUE, ["between"]),
    rfm_group: ["eq", "ne", "in", "not_in"].concat(NO_VALUE),
    datetime: ["eq", "ne"].concat(ORDER, NO_VALUE, ["between", "within_last_days"]),
    attribute: ["eq", "ne"].concat(ORDER, ["in", "not_in"], TEXT, NO_VALUE, ["between"]),
    consent: ["eq", "ne"].concat(NO_VALUE),
    unknown: OPERATORS
  };
  var GROUP_KEYS = ["all", "any", "not"];

  function has(obj, key) { return Object.prototype.hasOwnProperty.call(obj, key); }
  function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }

  function fieldKind(field) {
    if (typeof field !== "string") { return "unknown"; }
    if (field.indexOf("attributes.") === 0) { return "attribute"; }
    for (var i = 0; i < FIELDS.length; i++) {
      if (FIELDS[i][0] === field) { return FIELDS[i][2]; }
    }
    return OTHER_FIELDS[field] || "unknown";
  }

  function shape(op) {
    if (NO_VALUE.indexOf(op) >= 0) { return "none"; }
    if (op === "between") { return "pair"; }
    if (op === "in" || op === "not_in") { return "list"; }
    if (op === "within_last_days" || op === "birthday_within_days") { return "days"; }
    return "scalar";
  }

  /* ------------------------------------------------------------------ model <-> rules JSON */

  function group(mode, not, children) {
    return {type: "group", mode: mode, not: !!not, children: children || []};
  }

  function parseNode(node) {
    if (!isObject(node)) { return {type: "raw", json: node}; }
    var keys = Object.keys(node);
    var gkey = GROUP_KEYS.filter(function (k) { return has(node, k); })[0];
    if (gkey && keys.length === 1) {
      if (gkey === "not") {
        var inner = parseNode(node.not);
        if (inner.type === "group" && !inner.not) {
          inner.not = true;
          return inner;
        }
        return group("all", true, [inner]);
      }
      if (Array.isArray(node[gkey])) { return group(gkey, false, node[gkey].map(parseNode)); }
      return {type: "raw", json: node};
    }
    if (!gkey && has(node, "event") && typeof node.event === "string") {
      var ev = {type: "event"};
      Object.keys(node).forEach(function (k) { ev[k] = node[k]; });
      return ev;
    }
    if (!gkey && typeof node.field === "string" && typeof node.op === "string" &&
        keys.every(function (k) { return ["field", "op", "value"].indexOf(k) >= 0; })) {
      var cond = {type: "cond", field: node.field, op: node.op};
      if (has(node, "value")) { cond.value = node.value; }
      return cond;
    }
    return {type: "raw", json: node};
  }

  function parseRules(rules) {
    if (!isObject(rules) || !Object.keys(rules).length) { return group("all", false, []); }
    var root = parseNode(rules);
    return root.type === "group" ? root : group("all", false, [root]);
  }

  function toRules(node) {
    if (node.type === "raw") { return node.json; }
    if (node.type === "cond") {
      var cond = {field: node.field, op: node.op};
      if (shape(node.op) !== "none" && node.value !== undefined) { cond.value = node.value; }
      return cond;
    }
    if (node.type === "event") {
      var ev = {};
      Object.keys(node).forEach(function (k) {
        if (k !== "type" && node[k] !== undefined && node[k] !== null && node[k] !== "") { ev[k] = node[k]; }
      });
      return ev;
    }
    var body;
    if (node.not && node.children.length === 1 && node.children[0].type !== "group") {
      body = toRules(node.children[0]);  // {"not": condition}, as the contract writes it
    } else {
      body = {};
      body[node.mode] = node.children.map(toRules);
    }
    return node.not ? {not: body} : body;
  }

  /* ------------------------------------------------------------------ values */

  function parseScalar(kind, text) {
    var s = String(text);
    if (kind === "number") {
      var n = Number(s);
      return s.trim() !== "" && isFinite(n) ? n : s;
    }
    if (kind === "attribute") {
      if (s === "true") { return true; }
      if (s === "false") { return false; }
      var m = Number(s);
      return s.trim() !== "" && isFinite(m) && String(m) === s.trim() ? m : s;
    }
    if (kind === "consent") { return s === "true" ? true : s === "false" ? false : s; }
    return s;
  }

  function parseDays(text) {
    var n = Number(text);
    return String(text).trim() !== "" && isFinite(n) ? n : String(text);
  }

  function show(value) {
    if (value === null || value === undefined) { return ""; }
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  function items(value) {
    if (value === undefined || value === null || value === "") { return []; }
    return Array.isArray(value) ? value.slice() : [value];
  }

  function reshape(cond, kind) {
    var old = items(cond.value);
    var s = shape(cond.op);
    if (s === "none") {
      delete cond.value;
    } else if (s === "pair") {
      cond.value = [old.length > 0 ? old[0] : "", old.length > 1 ? old[1] : ""];
    } else if (s === "list") {
      cond.value = old;
    } else if (s === "days") {
      cond.value = typeof old[0] === "number" ? old[0] : (cond.op === "within_last_days" ? 30 : 7);
    } else if (kind === "consent") {
      cond.value = typeof old[0] === "boolean" ? old[0] : true;
    } else if (kind === "tier") {
      cond.value = TIERS.indexOf(old[0]) >= 0 ? old[0] : "";
    } else if (kind === "rfm_group") {
      cond.value = RFM_GROUPS.indexOf(old[0]) >= 0 ? old[0] : "";
    } else {
      cond.value = old.length ? old[0] : "";
    }
  }

  /* ------------------------------------------------------------------ DOM helpers */

  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  function button(label, cls, role, title) {
    var b = h("button", {type: "button", "class": "btn btn-sm " + cls, "data-role": role, text: label});
    if (title) { b.setAttribute("title", title); b.setAttribute("aria-label", title); }
    return b;
  }

  function select(role, options, value, cls) {
    var s = h("select", {"class": "custom-select custom-select-sm " + (cls || ""), "data-role": role});
    options.forEach(function (o) {
      if (o.group) {
        var og = h("optgroup", {label: o.group});
        o.options.forEach(function (p) { og.appendChild(h("option", {value: p[0], text: p[1]})); });
        s.appendChild(og);
      } else {
        s.appendChild(h("option", {value: o[0], text: o[1]}));
      }
    });
    s.value = value;
    return s;
  }

  function input(role, value, attrs) {
    var i = h("input", {"class": "form-control form-control-sm", "data-role": role, type: "text"});
    Object.keys(attrs || {}).forEach(function (k) { i.setAttribute(k, attrs[k]); });
    i.value = show(value);
    return i;
  }

  /* ------------------------------------------------------------------ the builder */

  function Builder(textarea) {
    this.textarea = textarea;
    this.formGroup = textarea.closest(".form-group") || textarea.parentNode;
    this.root = group("all", false, []);
    this.writing = false;
    this.build();
    this.load(textarea.value, true);
    var self = this;
    textarea.addEventListener("input", function () {
      if (!self.writing) { self.load(textarea.value, false); }
    });
  }

  Builder.prototype.build = function () {
    var self = this;
    this.box = h("div", {"class": "segment-builder card mb-3", id: "segment-builder"});
    var head = h("div", {"class": "card-body pb-2"});
    var title = h("div", {"class": "d-flex align-items-center justify-content-between mb-2"}, [
      h("label", {"class": "mb-0 font-weight-bold", text: "Rules"}),
      null
    ]);
    this.toggle = button("JSON", "btn-outline-secondary", "json-toggle", "Show or hide the rules as JSON");
    this.toggle.id = "segment-json-toggle";
    this.toggle.addEventListener("click", function () { self.showJson(self.formGroup.classList.contains("d-none")); });
    title.appendChild(this.toggle);
    this.notice = h("div", {"class": "alert alert-warning small py-1 px-2 mb-2 d-none", id: "segment-builder-notice"});
    this.tree = h("div", {"class": "segment-tree", id: "segment-tree"});
    head.appendChild(title);
    head.appendChild(this.notice);
    head.appendChild(this.tree);
    this.box.appendChild(head);
    this.formGroup.parentNode.insertBefore(this.box, this.formGroup);
  };

  Builder.prototype.showJson = function (visible) {
    this.formGroup.classList.toggle("d-none", !visible);
    this.toggle.classList.toggle("active", visible);
    this.toggle.setAttribute("aria-pressed", visible ? "true" : "false");
  };

  Builder.prototype.load = function (text, first) {
    var rules;
    try {
      rules = text && text.trim() ? JSON.parse(text) : {};
    } catch (e) {
      this.notice.textContent = "The JSON does not parse: the builder shows the last rules that did.";
      this.notice.classList.remove("d-none");
      if (first) { this.render(); this.showJson(true); }
      return;
    }
    this.notice.classList.add("d-none");
    if (!isObject(rules)) {
      this.notice.textContent = "Rules must be a JSON object.";
      this.notice.classList.remove("d-none");
      if (first) { this.render(); this.showJson(true); }
      return;
    }
    this.root = parseRules(rules);
    this.render();
    if (first) {
      // the raw JSON stays open when the server rejected it, so its error sits next to it
      this.showJson(!!this.formGroup.querySelector(".is-invalid, .invalid-feedback, .help-block.error"));
    }
  };

  Builder.prototype.changed = function () {
    var rules = this.root.children.length || this.root.not ? toRules(this.root) : {};
    this.writing = true;
    try {
      this.textarea.value = JSON.stringify(rules, null, 2);
      this.textarea.dispatchEvent(new Event("input", {bubbles: true}));
    } finally {
      this.writing = false;
    }
    this.notice.classList.add("d-none");
  };

  Builder.prototype.render = function () {
    while (this.tree.firstChild) { this.tree.removeChild(this.tree.firstChild); }
    this.rows = new Map();
    this.tree.appendChild(this.renderGroup(this.root, null));
  };

  Builder.prototype.update = function (focus) {
    this.render();
    this.changed();
    var row = focus && this.rows.get(focus);
    var target = row && row.querySelector("select, input");
    if (target) { target.focus(); }
  };

  Builder.prototype.renderGroup = function (g, parent) {
    var self = this;
    var box = h("div", {"class": "rule-group" + (g.not ? " rule-group-not" : ""), "data-role": "group"});
    var head = h("div", {"class": "rule-group-head"});

    var not = button("NOT", g.not ? "btn-danger" : "btn-outline-secondary", "not",
      "Negate: match members who do not fit this group");
    not.setAttribute("aria-pressed", g.not ? "true" : "false");
    not.addEventListener("click", function () { g.not = !g.not; self.update(); });

    var modes = h("div", {"class": "btn-group btn-group-sm btn-group-toggle", role: "group", "data-role": "mode"});
    [["all", "all of"], ["any", "any of"]].forEach(function (m) {
      var b = button(m[1], g.mode === m[0] ? "btn-primary active" : "btn-outline-primary", "mode-" + m[0]);
      b.setAttribute("aria-pressed", g.mode === m[0] ? "true" : "false");
      b.addEventListener("click", function () {
        if (g.mode !== m[0]) { g.mode = m[0]; self.update(); }
      });
      modes.appendChild(b);
    });

    var addCond = button("+ Condition", "btn-outline-secondary", "add-condition");
    addCond.addEventListener("click", function () {
      var fresh = {type: "cond", field: "email", op: "eq", value: ""};
      g.children.push(fresh);
      self.update(fresh);
    });
    var addGroup = button("+ Group", "btn-outline-secondary", "add-group");
    addGroup.addEventListener("click", function () {
      g.children.push(group(g.mode === "all" ? "any" : "all", false, []));
      self.update();
    });
    var tools = h("div", {"class": "rule-tools"}, [addCond, addGroup]);
    if (parent) {
      var remove = button("×", "btn-outline-danger", "remove", "Remove this group");
      remove.addEventListener("click", function () {
        parent.children.splice(parent.children.indexOf(g), 1);
        self.update();
      });
      tools.appendChild(remove);
    }
    head.appendChild(not);
    head.appendChild(h("span", {"class": "rule-word", text: "match"}));
    head.appendChild(modes);
    head.appendChild(h("span", {"class": "rule-word", text: "these"}));
    head.appendChild(tools);
    box.appendChild(head);

    var list = h("div", {"class": "rule-children"});
    g.children.forEach(function (child) {
      list.appendChild(child.type === "group" ? self.renderGroup(child, g) : self.renderRow(child, g));
    });
    if (!g.children.length) {
      list.appendChild(h("div", {"class": "rule-empty small text-muted",
        text: parent ? "An empty group: add a condition." : "No conditions yet: every member matches."}));
    }
    box.appendChild(list);
    return box;
  };

  Builder.prototype.renderRow = function (node, parent) {
    var self = this;
    var row = h("div", {"class": "rule-condition", "data-role": "condition"});
    this.rows.set(node, row);
    var remove = button("×", "btn-outline-danger", "remove", "Remove this condition");
    remove.addEventListener("click", function () {
      parent.children.splice(parent.children.indexOf(node), 1);
      self.update();
    });

    if (node.type === "raw") {
      var raw = input("raw", JSON.stringify(node.json), {"class": "form-control form-control-sm text-monospace"});
      raw.addEventListener("input", function () {
        try {
          node.json = JSON.parse(raw.value);
          raw.classList.remove("is-invalid");
          self.changed();
        } catch (e) {
          raw.classList.add("is-invalid");
        }
      });
      row.appendChild(h("span", {"class": "rule-word", text: "JSON"}));
      row.appendChild(h("div", {"class": "rule-value flex-grow-1"}, [raw]));
      row.appendChild(remove);
      return row;
    }

    var current = node.type === "event" ? "event:" + node.event :
      (fieldKind(node.field) === "attribute" ? "attributes." : node.field);
    var contactOptions = FIELDS.map(function (f) { return [f[0], f[1]]; });
    if (node.type === "cond" && fieldKind(node.field) !== "attribute" &&
        !FIELDS.some(function (f) { return f[0] === node.field; })) {
      contactOptions.push([node.field, node.field]);
    }
    contactOptions.push(["attributes.", "Attribute…"]);
    var eventOptions = EVENTS.map(function (e) { return ["event:" + e[0], e[1]]; });
    if (node.type === "event" && !EVENTS.some(function (e) { return e[0] === node.event; })) {
      eventOptions.push(["event:" + node.event, node.event]);
    }
    var field = select("field", [{group: "Member", options: contactOptions},
                                 {group: "Activity", options: eventOptions}], current, "rule-field");
    field.addEventListener("change", function () { self.setField(node, field.value); });
    row.appendChild(field);

    if (node.type === "event") {
      this.eventInputs(row, node);
      row.appendChild(remove);
      if (node.event === "order.placed") { this.orderInputs(row, node); }
      return row;
    }

    var kind = fieldKind(node.field);
    if (kind === "attribute") {
      var key = input("attr-key", node.field.slice("attributes.".length),
        {placeholder: "key, e.g. city", "class": "form-control form-control-sm rule-attr"});
      key.addEventListener("input", function () {
        node.field = "attributes." + key.value;
        self.changed();
      });
      row.appendChild(key);
    }
    var ops = OPS_BY_KIND[kind].slice();
    if (ops.indexOf(node.op) < 0) { ops.push(node.op); }
    var op = select("op", ops.map(function (o) { return [o, OP_LABELS[o] || o]; }), node.op, "rule-op");
    op.addEventListener("change", function () {
      node.op = op.value;
      reshape(node, kind);
      self.update();
    });
    row.appendChild(op);
    row.appendChild(this.valueInputs(node, kind));
    row.appendChild(remove);
    return row;
  };

  Builder.prototype.setField = function (node, value) {
    var kind;
    if (value.indexOf("event:") === 0) {
      var name = value.slice("event:".length);
      if (node.type === "event") {
        node.event = name;
      } else {
        Object.keys(node).forEach(function (k) { delete node[k]; });
        node.type = "event";
        node.event = name;
        node.within_days = 30;
        node.min_count = 1;
      }
    } else {
      if (node.type !== "cond") {
        Object.keys(node).forEach(function (k) { delete node[k]; });
        node.type = "cond";
        node.op = "eq";
      }
      var before = fieldKind(node.field);
      node.field = value === "attributes." ?
        (before === "attribute" ? node.field : "attributes.") : value;
      kind = fieldKind(node.field);
      if (OPS_BY_KIND[kind].indexOf(node.op) < 0) { node.op = "eq"; }
      if (kind !== before) { node.value = undefined; }
      reshape(node, kind);
    }
    this.update();
    if (value === "attributes.") {
      var keys = this.tree.querySelectorAll("[data-role=attr-key]");
      for (var i = 0; i < keys.length; i++) { if (!keys[i].value) { keys[i].focus(); break; } }
    }
  };

  Builder.prototype.eventInputs = function (row, node) {
    var self = this;
    var days = input("event-days", node.within_days, {type: "number", min: "0", step: "any",
      placeholder: "any time", "class": "form-control form-control-sm rule-num"});
    days.addEventListener("input", function () {
      node.within_days = days.value === "" ? undefined : parseDays(days.value);
      self.changed();
    });
    var count = input("event-count", node.min_count === undefined ? 1 : node.min_count,
      {type: "number", min: "1", step: "1", "class": "form-control form-control-sm rule-num"});
    count.addEventListener("input", function () {
      node.min_count = count.value === "" ? undefined : parseDays(count.value);
      self.changed();
    });
    row.appendChild(h("span", {"class": "rule-word", text: "at least"}));
    row.appendChild(count);
    row.appendChild(h("span", {"class": "rule-word", text: "times, in the last"}));
    row.appendChild(days);
    row.appendChild(h("span", {"class": "rule-word", text: "days"}));
    if (node.campaign_id !== undefined) {
      row.appendChild(h("span", {"class": "badge badge-light", text: "campaign #" + node.campaign_id}));
    }
  };

  Builder.prototype.orderInputs = function (row, node) {
    var self = this;
    var box = h("div", {"class": "rule-order d-flex flex-wrap align-items-center w-100 mt-1"});
    ORDER_KEYS.forEach(function (k) {
      var numeric = k[2] === "number";
      var attrs = numeric ? {type: "number", min: "0", step: "any", placeholder: k[3],
        "class": "form-control form-control-sm rule-num"} :
        {placeholder: k[3], "class": "form-control form-control-sm rule-order-text"};
      var field = input("event-" + k[0].replace("_", "-"), node[k[0]], attrs);
      field.setAttribute("aria-label", k[1]);
      field.addEventListener("input", function () {
        var v = field.value;
        node[k[0]] = v === "" ? undefined : (numeric ? parseDays(v) : v);
        self.changed();
      });
      box.appendChild(h("span", {"class": "rule-word", text: k[1]}));
      box.appendChild(field);
    });
    row.appendChild(box);
  };

  Builder.prototype.valueInputs = function (node, kind) {
    var self = this;
    var box = h("div", {"class": "rule-value"});
    var s = shape(node.op);
    var type = kind === "number" ? "number" : (kind === "date" || kind === "day") ? "date" : "text";
    var hint = kind === "datetime" ? {placeholder: "2026-05-17T10:00:00Z"} : {};
    function typed(extra) {
      var attrs = {type: type};
      if (type === "number") { attrs.step = "any"; }
      Object.keys(hint).forEach(function (k) { attrs[k] = hint[k]; });
      Object.keys(extra || {}).forEach(function (k) { attrs[k] = extra[k]; });
      return attrs;
    }

    if (s === "none") { return box; }
    if (s === "days") {
      var d = input("value", node.value, {type: "number", min: "0", step: node.op === "birthday_within_days" ? "1" : "any",
        "class": "form-control form-control-sm rule-num"});
      d.addEventListener("input", function () { node.value = parseDays(d.value); self.changed(); });
      box.appendChild(d);
      box.appendChild(h("span", {"class": "rule-word", text: "days"}));
      return box;
    }
    if (kind === "consent") {
      var c = select("value", [["true", "granted"], ["false", "refused"]], show(node.value));
      c.addEventListener("change", function () { node.value = c.value === "true"; self.changed(); });
      box.appendChild(c);
      return box;
    }
    var CHOICES = kind === "rfm_group" ? RFM_GROUPS : TIERS;
    var prefix = kind === "rfm_group" ? "group-" : "tier-";
    if ((kind === "tier" || kind === "rfm_group") && s === "list") {
      var chosen = items(node.value);
      var chips = h("div", {"class": "btn-group btn-group-sm btn-group-toggle rule-tiers flex-wrap", "data-role": "value"});
      CHOICES.forEach(function (t) {
        var on = chosen.indexOf(t) >= 0;
        var b = button(t, on ? "btn-info active" : "btn-outline-info", prefix + t);
        b.setAttribute("aria-pressed", on ? "true" : "false");
        b.addEventListener("click", function () {
          var now = items(node.value);
          node.value = on ? now.filter(function (x) { return x !== t; }) :
            CHOICES.filter(function (x) { return x === t || now.indexOf(x) >= 0; });
          self.update();
        });
        chips.appendChild(b);
      });
      box.classList.add("rule-value-chips");
      box.appendChild(chips);
      return box;
    }
    if (kind === "tier" || kind === "rfm_group") {
      var tierOptions = CHOICES.map(function (t) { return [t, t]; });
      var pair = s === "pair" ? items(node.value) : [node.value];
      pair.forEach(function (v, i) {
        var opts = tierOptions.slice();
        if (CHOICES.indexOf(v) < 0) { opts.unshift([show(v), show(v) || "choose…"]); }
        var t = select(s === "pair" ? (i ? "value-high" : "value-low") : "value", opts, show(v));
        t.addEventListener("change", function () {
          if (s === "pair") { node.value[i] = t.value; } else { node.value = t.value; }
          self.changed();
        });
        if (i) { box.appendChild(h("span", {"class": "rule-word", text: "and"})); }
        box.appendChild(t);
      });
      return box;
    }
    if (s === "list") {
      var list = input("value", items(node.value).map(show).join(", "), {placeholder: "a, b, c"});
      list.addEventListener("input", function () {
        node.value = list.value.split(",").map(function (p) { return p.trim(); })
          .filter(function (p) { return p !== ""; })
          .map(function (p) { return parseScalar(kind, p); });
        self.changed();
      });
      box.appendChild(list);
      return box;
    }
    if (s === "pair") {
      if (!Array.isArray(node.value)) { node.value = items(node.value).concat(["", ""]).slice(0, 2); }
      ["value-low", "value-high"].forEach(function (role, i) {
        var p = input(role, node.value[i], typed({placeholder: i ? "high" : "low"}));
        p.addEventListener("input", function () {
          node.value[i] = parseScalar(kind, p.value);
          self.changed();
        });
        if (i) { box.appendChild(h("span", {"class": "rule-word", text: "and"})); }
        box.appendChild(p);
      });
      return box;
    }
    var v = input("value", node.value, typed({placeholder: kind === "attribute" ? "text, number, true/false" : "value"}));
    v.addEventListener("input", function () {
      node.value = parseScalar(kind, v.value);
      self.changed();
    });
    box.appendChild(v);
    return box;
  };

  function start() {
    var textarea = document.getElementById("rules_json");
    if (textarea && !textarea.getAttribute("data-builder")) {
      textarea.setAttribute("data-builder", "on");
      window.heraldSegmentBuilder = new Builder(textarea);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
