/* Herald admin: live campaign progress (polls progress.json every 2 s, draws an SVG bar chart)
   and the live segment preview. No dependencies. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var BARS = [
    ["sent", "Sent", "#10b981"],
    ["failed", "Failed", "#ef4444"],
    ["skipped", "Skipped", "#f59e0b"],
    ["pending", "Pending", "#3b82f6"],
    ["unique_opens", "Opened", "#6366f1"],
    ["unique_clicks", "Clicked", "#ec4899"]
  ];

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function drawChart(svg, total) {
    var width = 420, height = 180, top = 18, bottom = 24, gap = 14;
    var max = 1;
    BARS.forEach(function (b) { max = Math.max(max, total[b[0]] || 0); });
    var barWidth = (width - gap * (BARS.length + 1)) / BARS.length;
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    svg.appendChild(el("line", {x1: 0, x2: width, y1: height - bottom, y2: height - bottom, stroke: "#d1d5db"}));
    BARS.forEach(function (b, i) {
      var value = total[b[0]] || 0;
      var h = (height - top - bottom) * value / max;
      var x = gap + i * (barWidth + gap);
      var y = height - bottom - h;
      svg.appendChild(el("rect", {x: x, y: y, width: barWidth, height: Math.max(h, 1), rx: 3, fill: b[2], "data-bar": b[0]}));
      svg.appendChild(el("text", {x: x + barWidth / 2, y: y - 4, "text-anchor": "middle"}, String(value)));
      svg.appendChild(el("text", {x: x + barWidth / 2, y: height - 8, "text-anchor": "middle"}, b[1]));
    });
  }

  function setText(id, value) {
    var node = document.getElementById(id);
    if (node) { node.textContent = value; }
  }

  function showProgress(card, data) {
    var total = data.stats.total;
    var percent = (data.progress * 100).toFixed(1);
    var bar = document.getElementById("progress-bar");
    bar.style.width = percent + "%";
    bar.setAttribute("aria-valuenow", percent);
    if (data.tone) { bar.className = "progress-bar bg-" + data.tone; }
    setText("progress-done", data.done);
    setText("progress-recipients", data.recipients);
    setText("progress-percent", percent + "%");
    setText("progress-updated", new Date().toLocaleTimeString());
    var status = document.getElementById("campaign-status");
    if (status && status.textContent !== data.status) {
      status.textContent = data.status;
      status.className = "badge status status-" + data.status;
    }
    var runs = document.getElementById("runs-list");
    if (runs && data.runs && data.runs.length) {
      while (runs.firstChild) { runs.removeChild(runs.firstChild); }
      data.runs.forEach(function (run) {
        var item = document.createElement("li");
        var badge = document.createElement("span");
        badge.className = "badge status status-" + run.status;
        badge.textContent = run.status;
        item.appendChild(document.createTextNode("#" + run.id + " · "));
        item.appendChild(badge);
        item.appendChild(document.createTextNode(" · " + run.started_at));
        runs.appendChild(item);
      });
    }
    if (data.actions) {
      document.querySelectorAll("form[data-action]").forEach(function (form) {
        form.classList.toggle("d-none", data.actions.indexOf(form.getAttribute("data-action")) < 0);
      });
    }
    card.querySelectorAll("[data-stat]").forEach(function (node) {
      node.textContent = total[node.getAttribute("data-stat")] || 0;
    });
    card.querySelectorAll("[data-rate]").forEach(function (node) {
      node.textContent = ((total[node.getAttribute("data-rate")] || 0) * 100).toFixed(1) + "%";
    });
    drawChart(document.getElementById("progress-chart"), total);
  }

  function pollProgress(card) {
    var url = card.getAttribute("data-progress-url");
    function tick() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) { showProgress(card, data); })
        .catch(function () { /* try again on the next tick */ })
        .then(function () { window.setTimeout(tick, 2000); });
    }
    tick();
  }

  function csrfToken() {
    var field = document.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  function segmentPreview(box) {
    var url = box.getAttribute("data-preview-url");
    var rules = document.getElementById("rules_json");
    if (!rules) { return; }
    var timer = null;
    function cell(row, text, cls) {
      var td = document.createElement("td");
      td.textContent = text === null || text === undefined ? "" : text;
      if (cls) { td.className = cls; }
      row.appendChild(td);
    }
    function refresh() {
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
        body: JSON.stringify({rules: rules.value})
      }).then(function (r) { return r.json(); }).then(function (data) {
        var error = document.getElementById("segment-error");
        var sample = document.getElementById("segment-sample");
        if (data.error) {
          error.textContent = data.error;
          error.classList.remove("d-none");
          setText("segment-count", "–");
          return;
        }
        error.classList.add("d-none");
        setText("segment-count", data.count);
        while (sample.firstChild) { sample.removeChild(sample.firstChild); }
        data.sample.forEach(function (m) {
          var row = document.createElement("tr");
          cell(row, m.email);
          cell(row, m.name);
          cell(row, m.tier);
          cell(row, m.points, "text-right");
          sample.appendChild(row);
        });
      });
    }
    rules.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 500);
    });
    refresh();
  }

  // the Content-Security-Policy refuses inline event handlers: confirm buttons and Flask-Admin's
  // bulk actions are wired here instead
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    var ask = target && target.closest("[data-herald-confirm]");
    if (ask && !window.confirm(ask.getAttribute("data-herald-confirm"))) {
      event.preventDefault();
      return;
    }
    if (target && target.closest("a.filter[href='#'], a.dropdown-toggle[href='#']")) {
      event.preventDefault();  // menu entries, not links (they were javascript:void(0))
    }
    var action = target && target.closest("[data-herald-action]");
    if (action) {
      event.preventDefault();
      if (window.modelActions) { window.modelActions.execute(action.getAttribute("data-herald-action")); }
    }
  });

  function importJob(box) {
    var url = box.getAttribute("data-url");
    function show(job) {
      var bar = document.getElementById("job-bar");
      bar.style.width = job.percent + "%";
      bar.textContent = job.percent + "%";
      var status = document.getElementById("job-status");
      status.textContent = job.status;
      status.className = "badge status status-" + job.status;
      ["processed", "created", "updated", "unchanged", "rejected"].forEach(function (key) {
        document.getElementById("job-" + key).textContent = job[key] || 0;
      });
      document.getElementById("job-error").textContent = job.error || "";
      document.getElementById("job-warning").textContent = job.warning || "";
      document.getElementById("job-rejects").hidden = !(job.has_rejects && job.rejected);
      return job.status === "done" || job.status === "failed";
    }
    function poll() {
      fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); })
        .then(function (job) { if (!show(job)) { setTimeout(poll, 1000); } })
        .catch(function () { setTimeout(poll, 3000); });
    }
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var job = document.getElementById("import-job");
    if (job) { importJob(job); }
    var card = document.getElementById("progress-card");
    if (card) { pollProgress(card); }
    var box = document.getElementById("segment-preview");
    if (box) { segmentPreview(box); }
  });

  /* report frames grow to their content, so no chart or table is clipped */
  function fitFrame(frame) {
    function fit() {
      try {
        var doc = frame.contentDocument;
        if (doc && doc.documentElement) {
          frame.style.height = (doc.documentElement.scrollHeight + 8) + "px";
        }
      } catch (e) { /* a frame we cannot read keeps its height */ }
    }
    frame.addEventListener("load", fit);
    window.addEventListener("resize", fit);
    fit();
  }
  document.querySelectorAll("iframe[data-fit-content]").forEach(fitFrame);
})();
