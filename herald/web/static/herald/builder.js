/* The guided campaign builder: keeps the campaign as the contract's JSON, previews it for a
   member as it is typed, saves it through the admin (which calls the campaign service), and
   places the service's problems next to their fields. */
(function () {
  "use strict";

  var root = document.getElementById("builder");
  if (!root) { return; }
  var urls = JSON.parse(root.getAttribute("data-urls"));
  var stored = JSON.parse(root.getAttribute("data-state"));
  var editable = root.getAttribute("data-editable") === "yes";
  var tiers = JSON.parse(root.getAttribute("data-tiers"));
  var csrf = document.querySelector("meta[name=csrf-token]").getAttribute("content");
  var MAX_VARIANTS = 8;

  function $(id) { return document.getElementById(id); }
  function all(sel) { return Array.prototype.slice.call(root.querySelectorAll(sel)); }
  function show(node, on) { node.classList.toggle("d-none", !on); }

  var state = {
    id: stored ? stored.id : null,
    status: stored ? stored.status : "draft",
    recipients: null,
    variants: stored ? stored.variants : [{name: "A"}],
    current: 0
  };

  // ------------------------------------------------------------------ requests

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) {
        // problems come back as {ok: false, error, fields} (a 4xx would log a console error)
        return {ok: r.ok && data.ok !== false, status: r.status, data: data};
      });
    });
  }

  function get(url) {
    return fetch(url, {credentials: "same-origin"}).then(function (r) {
      return r.json().then(function (data) { return {ok: r.ok && data.ok !== false, data: data}; });
    });
  }

  function idUrl(name, id) { return urls[name].replace("/0/", "/" + id + "/"); }

  // ------------------------------------------------------------------ channel and audience

  function channel() {
    var picked = root.querySelector("input[name=channel]:checked");
    return picked ? picked.value : "email";
  }

  function showChannel() {
    var kind = channel();
    all("input[name=channel]").forEach(function (r) { r.parentNode.classList.toggle("active", r.checked); });
    all(".channel-fields").forEach(function (n) { show(n, n.getAttribute("data-channel") === kind); });
    all(".preview-channel").forEach(function (n) { show(n, n.getAttribute("data-channel") === kind); });
    show($("coupon-section"), kind === "email" || kind === "sms");
    show($("b-audience").closest(".form-row"), kind !== "social");
    show($("audience-social"), kind === "social");
    if (kind === "email") { ensureEditor(); }
  }

  function refreshCount() {
    var chosen = $("b-audience").value;
    if (!chosen) { $("audience-count").textContent = "–"; return; }
    get(urls.audience + "?segment=" + encodeURIComponent(chosen)).then(function (r) {
      $("audience-count").textContent = r.ok ? r.data.count.toLocaleString("en-US") : "?";
    });
  }

  // ------------------------------------------------------------------ variants

  var emailEditor = null;
  var sourceMode = false;

  function ensureEditor() {
    if (emailEditor || !window.HeraldEmailEditor) { return; }
    emailEditor = window.HeraldEmailEditor.create("#gjs", function () {
      readVariant(); schedulePreview();
    }, root.getAttribute("data-icons-css"));
    emailEditor.setHtml(state.variants[state.current].html || "");
  }

  function benefitsFromTable() {
    var benefits = {};
    tiers.forEach(function (tier) {
      var type = $("benefit-" + tier + "-type").value;
      if (!type) { return; }
      if (type === "tier_default") { benefits[tier] = "tier_default"; return; }
      var amount = parseFloat($("benefit-" + tier + "-amount").value);
      var b = {type: type, valid_days: parseInt($("benefit-" + tier + "-days").value || "1", 10)};
      if (type === "coupon") { b.percent_off = isNaN(amount) ? null : Math.round(amount); } else { b.multiplier = isNaN(amount) ? null : amount; }
      benefits[tier] = b;
    });
    return benefits;
  }

  function num(text) {
    var t = String(text || "").trim();
    return t !== "" && !isNaN(Number(t)) ? Number(t) : t;
  }

  /** The variant's coupon spec from the coupon fields (contract 15), or null for none. */
  function couponFromFields() {
    var kind = $("c-kind").value;
    if (!kind) { return null; }
    if (kind.indexOf("tier:") === 0) { return {tier_benefit: kind.slice(5)}; }
    var c = {type: kind === "percent_off" || kind === "amount_off" ? "coupon" : kind};
    var value = $("c-value").value.trim();
    if (kind === "percent_off" || kind === "amount_off") { c[kind] = num(value); }
    if (kind === "points_multiplier") { c.multiplier = num(value); }
    if (kind === "gift") { c.sku = $("c-sku").value.trim(); }
    if ($("c-min-spend").value.trim() && kind !== "points_multiplier") { c.min_spend = num($("c-min-spend").value); }
    if ($("c-valid-until").value.trim()) { c.valid_until = $("c-valid-until").value.trim(); }
    if ($("c-valid-days").value.trim()) { c.valid_days = num($("c-valid-days").value); }
    return c;
  }

  function couponToFields(c) {
    c = c || {};
    var kind = "";
    if (c.tier_benefit) { kind = "tier:" + c.tier_benefit; }
    else if (c.type === "coupon") { kind = c.percent_off !== undefined && c.percent_off !== null ? "percent_off" : "amount_off"; }
    else if (c.type) { kind = c.type; }
    $("c-kind").value = kind;
    var value = c.percent_off !== undefined && c.percent_off !== null ? c.percent_off : (c.amount_off !== undefined ? c.amount_off : c.multiplier);
    $("c-value").value = value === undefined || value === null ? "" : value;
    $("c-min-spend").value = c.min_spend === undefined ? "" : c.min_spend;
    $("c-sku").value = c.sku || "";
    $("c-valid-days").value = c.valid_days === undefined ? "" : c.valid_days;
    $("c-valid-until").value = c.valid_until || "";
  }

  function setIf(v, key, value) { if (value !== "" && value !== null && value !== undefined) { v[key] = value; } }

  /** The form's fields into the current variant. */
  function readVariant() {
    var old = state.variants[state.current];
    var v = {name: old.name};
    var kind = channel();
    if (kind === "email") {
      setIf(v, "subject", $("v-subject").value);
      setIf(v, "from", $("v-from").value.trim());
      var html = sourceMode || !emailEditor ? $("v-html").value : emailEditor.getHtml();
      if (emailEditor && !sourceMode && emailEditor.isEmpty()) { html = ""; }
      setIf(v, "html", html);
      setIf(v, "text", $("v-text").value);
    } else if (kind === "sms") {
      setIf(v, "body", $("v-body").value);
    }
    if (kind === "email" || kind === "sms") {
      var coupon = couponFromFields();
      if (coupon) { v.coupon = coupon; }
    } else if (kind === "social") {
      setIf(v, "status", $("v-status").value);
      v.visibility = $("v-visibility").value;
    } else {
      v.benefits = benefitsFromTable();
      v.notify = [];
      if ($("notify-email").checked) { v.notify.push("email"); }
      if ($("notify-sms").checked) { v.notify.push("sms"); }
      setIf(v, "subject", $("v-md-subject").value);
      setIf(v, "html", $("v-md-html").value);
      setIf(v, "text", $("v-md-text").value);
      setIf(v, "sms_body", $("v-md-sms").value);
    }
    state.variants[state.current] = v;
  }

  /** The current variant into the form's fields. */
  function writeVariant() {
    var v = state.variants[state.current] || {};
    $("v-subject").value = v.subject || "";
    $("v-from").value = v.from || "";
    $("v-html").value = v.html || "";
    $("v-text").value = v.text || "";
    if (emailEditor) { emailEditor.setHtml(v.html || ""); }
    $("v-body").value = v.body || "";
    $("v-status").value = v.status || "";
    $("v-visibility").value = v.visibility || "public";
    couponToFields(v.coupon);
    var benefits = v.benefits === "tier_defaults" ? {} : (v.benefits || {});
    tiers.forEach(function (tier) {
      var b = v.benefits === "tier_defaults" || benefits[tier] === "tier_default" ? {type: "tier_default"} : (benefits[tier] || {});
      $("benefit-" + tier + "-type").value = b.type || "";
      $("benefit-" + tier + "-amount").value = b.percent_off || b.multiplier || "";
      $("benefit-" + tier + "-days").value = b.valid_days || 1;
    });
    $("notify-email").checked = (v.notify || []).indexOf("email") >= 0;
    $("notify-sms").checked = (v.notify || []).indexOf("sms") >= 0;
    $("v-md-subject").value = v.subject || "";
    $("v-md-html").value = v.html || "";
    $("v-md-text").value = v.text || "";
    $("v-md-sms").value = v.sms_body || "";
    meters();
  }

  function drawTabs() {
    var tabs = $("variant-tabs");
    tabs.innerHTML = "";
    state.variants.forEach(function (v, i) {
      var li = document.createElement("li");
      li.className = "nav-item";
      var a = document.createElement("a");
      a.className = "nav-link" + (i === state.current ? " active" : "");
      a.href = "#";
      a.id = "variant-tab-" + v.name;
      a.textContent = "Variant " + v.name;
      a.addEventListener("click", function (e) { e.preventDefault(); switchTo(i); });
      li.appendChild(a);
      tabs.appendChild(li);
    });
    $("add-variant").disabled = !editable || state.variants.length >= MAX_VARIANTS;
    show($("remove-variant"), editable && state.variants.length > 1);
    var ab = state.variants.length > 1;
    show($("ab-fields"), ab);
    show($("ab-off"), !ab);
    var fallback = $("ab-fallback");
    var keep = fallback.value;
    fallback.innerHTML = "";
    state.variants.forEach(function (v) {
      var o = document.createElement("option");
      o.value = v.name; o.textContent = "Variant " + v.name;
      fallback.appendChild(o);
    });
    if (keep) { fallback.value = keep; }
    if (!fallback.value && state.variants.length) { fallback.value = state.variants[0].name; }
  }

  function switchTo(index) {
    readVariant();
    state.current = index;
    drawTabs();
    writeVariant();
    showFieldErrors();
    schedulePreview();
  }

  function nextName() {
    var used = state.variants.map(function (v) { return v.name; });
    for (var c = 65; c < 91; c++) {
      if (used.indexOf(String.fromCharCode(c)) < 0) { return String.fromCharCode(c); }
    }
    return "V" + used.length;
  }

  // ------------------------------------------------------------------ the whole campaign

  function payload() {
    readVariant();
    var body = {
      name: $("b-name").value,
      channel: channel(),
      audience: $("b-audience").value,
      variants: state.variants,
      schedule: schedule.read()
    };
    if (state.id) { body.id = state.id; }
    if (state.variants.length > 1) {
      body.ab_test = {
        test_fraction: parseFloat($("ab-fraction").value) / 100,
        metric: $("ab-metric").value,
        decide_after_hours: parseFloat($("ab-hours").value),
        confidence: parseFloat($("ab-confidence").value),
        fallback: $("ab-fallback").value
      };
    }
    return body;
  }

  // ------------------------------------------------------------------ errors at the fields

  var fieldErrors = {};

  function clearError(prefix) {
    all("[data-field]").forEach(function (n) {
      var key = n.getAttribute("data-field");
      if (prefix && key.indexOf(prefix) !== 0) { return; }
      n.classList.remove("is-invalid");
      var fb = feedbackFor(n);
      if (fb) { fb.textContent = ""; }
    });
    if (!prefix) { show($("builder-error"), false); }
  }

  function feedbackFor(node) {
    if (node.id === "gjs-wrap") { return $("html-feedback"); }
    var next = node.nextElementSibling;
    while (next && !next.classList.contains("invalid-feedback")) { next = next.nextElementSibling; }
    if (next) { return next; }
    return node.classList.contains("invalid-feedback") ? node : null;
  }

  function showAt(key, message) {
    var nodes = all('[data-field="' + key + '"]').filter(function (n) { return n.offsetParent !== null || n.id === "gjs-wrap"; });
    if (!nodes.length) { return false; }
    nodes.forEach(function (n) {
      n.classList.add("is-invalid");
      var fb = feedbackFor(n);
      if (fb) { fb.textContent = message; show(fb, true); fb.classList.add("d-block"); }
    });
    return true;
  }

  function showFieldErrors() {
    clearError("variant.");
    Object.keys(fieldErrors).forEach(function (key) {
      var m = /^variants\[(\d+)\]\.(\w+)/.exec(key);
      if (m && parseInt(m[1], 10) === state.current) { showAt("variant." + m[2], fieldErrors[key]); }
    });
  }

  function placeErrors(fields, message) {
    var placed = false;
    var firstVariant = null;
    Object.keys(fields).forEach(function (key) {
      var m = /^variants\[(\d+)\]\.(\w+)/.exec(key);
      if (m) {
        fieldErrors[key] = fields[key];
        if (firstVariant === null) { firstVariant = parseInt(m[1], 10); }
        placed = true;
        return;
      }
      if (showAt(key, fields[key]) || showAt(key.split(".")[0], fields[key])) { placed = true; }
    });
    if (firstVariant !== null && firstVariant !== state.current) { switchTo(firstVariant); }
    showFieldErrors();
    if (!placed && message) {
      $("builder-error").textContent = message;
      show($("builder-error"), true);
    }
  }

  var schedule = window.HeraldSchedule({
    root: root, $: $, all: all, show: show, post: post, urls: urls,
    clearError: clearError, placeErrors: placeErrors
  });

  // ------------------------------------------------------------------ preview

  var previewTimer = null;
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(runPreview, 400);
  }

  function runPreview() {
    var body = payload();
    delete body.id;
    delete body.ab_test;
    body.schedule = {type: "immediate"};
    if (!body.audience) { body.audience = "everyone"; }
    if (!body.name.trim()) { body.name = "preview"; }
    var variant = state.variants[state.current].name;
    post(urls.preview, {campaign: body, contact_id: $("preview-contact").value || null, variant: variant}).then(function (r) {
      var err = $("preview-error");
      if (!r.ok) {
        err.textContent = r.data.error; show(err, true);
        return;
      }
      show(err, false);
      window.HeraldPreview.draw(r.data);
    });
  }

  function meters() {
    var body = $("v-body").value;
    $("sms-meter").textContent = body.length + " characters";
    $("post-meter").textContent = $("v-status").value.length + " / 500 characters";
  }

  function loadContacts(q) {
    get(urls.contacts + "?q=" + encodeURIComponent(q || "")).then(function (r) {
      var select = $("preview-contact");
      var keep = select.value;
      select.innerHTML = '<option value="">a member with empty fields</option>';
      r.data.items.forEach(function (c) {
        var o = document.createElement("option");
        o.value = c.id; o.textContent = c.label;
        select.appendChild(o);
      });
      if (keep && select.querySelector('option[value="' + keep + '"]')) { select.value = keep; }
      else if (r.data.items.length) { select.value = String(r.data.items[0].id); }
      schedulePreview();
    });
  }

  // ------------------------------------------------------------------ save, test, send

  function afterSave(data) {
    state.id = data.id;
    state.status = data.status;
    state.recipients = data.recipients;
    $("review-sentence").textContent = data.review;
    $("builder-status").textContent = data.status;
    if (window.history && window.location.pathname !== idUrl("edit", data.id)) {
      window.history.replaceState(null, "", idUrl("edit", data.id));
    }
  }

  function save() {
    clearError(); fieldErrors = {};
    return post(urls.save, payload()).then(function (r) {
      if (!r.ok) { placeErrors(r.data.fields || {}, r.data.error); return null; }
      afterSave(r.data);
      return r.data;
    });
  }

  function testSend() {
    var result = $("test-result");
    result.textContent = "Sending a test…";
    var go = function () {
      return post(idUrl("test_send", state.id), {
        to: $("test-to").value, contact_id: $("preview-contact").value || null,
        variant: state.variants[state.current].name
      }).then(function (r) {
        if (!r.ok) { placeErrors(r.data.fields || {}, r.data.error); result.textContent = "Not sent: " + r.data.error; return; }
        result.textContent = "Test sent to " + r.data.to + ".";
      });
    };
    (editable ? save() : Promise.resolve({id: state.id})).then(function (saved) {
      if (saved) { go(); } else { result.textContent = "Fix the problems above first."; }
    });
  }

  function askToSend() {
    save().then(function (saved) {
      if (!saved) { return; }
      var who = saved.recipients === null ? "one post to the shop's account" : saved.recipients.toLocaleString("en-US") + " members";
      $("confirm-text").textContent = "This sends to " + who + ": " + saved.review + ".";
      window.jQuery("#confirm-modal").modal("show");
    });
  }

  function confirmSend() {
    $("confirm-send").disabled = true;
    post(idUrl("send", state.id), {}).then(function (r) {
      $("confirm-send").disabled = false;
      window.jQuery("#confirm-modal").modal("hide");
      if (!r.ok) { placeErrors(r.data.fields || {}, r.data.error); return; }
      window.location.href = idUrl("detail", state.id);
    });
  }

  function unschedule() {
    post(idUrl("unschedule", state.id), {}).then(function (r) {
      if (!r.ok) { placeErrors({}, r.data.error); return; }
      window.location.href = idUrl("edit", state.id);
    });
  }

  // ------------------------------------------------------------------ wiring

  function init() {
    if (stored) {
      $("b-name").value = stored.name;
      var radio = $("channel-" + stored.channel);
      if (radio) { radio.checked = true; }
      $("b-audience").value = stored.audience;
      if (stored.ab_test) {
        $("ab-fraction").value = Math.round(stored.ab_test.test_fraction * 100);
        $("ab-metric").value = stored.ab_test.metric;
        $("ab-hours").value = stored.ab_test.decide_after_hours;
        var sure = String(stored.ab_test.confidence);
        if (!$("ab-confidence").querySelector('option[value="' + sure + '"]')) {
          var o = document.createElement("option"); o.value = sure; o.textContent = Math.round(stored.ab_test.confidence * 1000) / 10 + "%";
          $("ab-confidence").appendChild(o);
        }
        $("ab-confidence").value = sure;
      }
      schedule.load(stored.schedule);
    } else {
      $("channel-email").checked = true;
      var day = root.getAttribute("data-start-day");
      if (day) { $("when-once").checked = true; $("once-local").value = day + "T10:00"; }
    }
    drawTabs();
    if (stored && stored.ab_test) { $("ab-fallback").value = stored.ab_test.fallback; }
    showChannel();
    writeVariant();
    schedule.show();
    refreshCount();
    loadContacts("");
    show($("unschedule"), state.status === "scheduled");
    if (!editable) {
      all("input, select, textarea, button").forEach(function (n) {
        if (["preview-contact", "preview-search", "width-desktop", "width-mobile", "unschedule", "test-to", "test-send"].indexOf(n.id) < 0) { n.disabled = true; }
      });
      show($("save-draft"), false); show($("send-campaign"), false);
    }

    all("input[name=channel]").forEach(function (r) {
      r.addEventListener("change", function () {
        var old = channel();
        state.variants = state.variants.map(function (v) { return {name: v.name}; });
        writeVariant(); showChannel(); schedulePreview(); return old;
      });
    });
    $("b-audience").addEventListener("change", refreshCount);
    root.addEventListener("input", function (e) {
      if (e.target.closest && e.target.closest(".channel-fields")) { meters(); readVariant(); schedulePreview(); }
      if (e.target.closest && e.target.closest("#step-schedule")) { schedule.show(); }
    });
    root.addEventListener("change", function (e) {
      if (e.target.closest && e.target.closest(".channel-fields")) { readVariant(); schedulePreview(); }
      if (e.target.closest && e.target.closest("#step-schedule")) { schedule.show(); }
    });
    $("add-variant").addEventListener("click", function () {
      readVariant();
      var copy = JSON.parse(JSON.stringify(state.variants[state.current]));
      copy.name = nextName();
      state.variants.push(copy);
      switchTo(state.variants.length - 1);
    });
    $("remove-variant").addEventListener("click", function () {
      if (state.variants.length < 2) { return; }
      state.variants.splice(state.current, 1);
      state.current = Math.max(0, state.current - 1);
      drawTabs(); writeVariant(); schedulePreview();
    });
    $("source-toggle").addEventListener("click", function () {
      if (!sourceMode) {
        $("v-html").value = emailEditor ? emailEditor.getHtml() : $("v-html").value;
      } else if (emailEditor) {
        emailEditor.setHtml($("v-html").value);
      }
      sourceMode = !sourceMode;
      show($("v-html"), sourceMode);
      show($("gjs-wrap"), !sourceMode);
      $("source-toggle").textContent = sourceMode ? "Visual editor" : "HTML source";
      readVariant();
    });
    $("width-desktop").addEventListener("click", function () { window.HeraldPreview.width("desktop"); });
    $("width-mobile").addEventListener("click", function () { window.HeraldPreview.width("mobile"); });
    $("preview-contact").addEventListener("change", schedulePreview);
    var searchTimer = null;
    $("preview-search").addEventListener("input", function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(function () { loadContacts($("preview-search").value); }, 300);
    });
    $("save-draft").addEventListener("click", save);
    $("test-send").addEventListener("click", testSend);
    $("send-campaign").addEventListener("click", askToSend);
    $("confirm-send").addEventListener("click", confirmSend);
    $("unschedule").addEventListener("click", unschedule);
    schedulePreview();
  }


  window.HeraldBuilder = {payload: payload, state: state};
  init();
})();
