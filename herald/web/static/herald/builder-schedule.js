/* The builder's schedule step: now, once (date-time and zone), recurring from a readable rule
   (day / week / month at a time in a zone, or a cron rule) with its next five times, each
   member's local time, or each member's best hour (smart). Used by builder.js through window.HeraldSchedule(ctx). */
(function () {
  "use strict";

  var ORDINAL = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"};
  var DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

  /** ctx: {root, $, all, show, post, urls, clearError, placeErrors} from builder.js */
  window.HeraldSchedule = function (ctx) {
    var root = ctx.root, $ = ctx.$, all = ctx.all, show = ctx.show, post = ctx.post;
    var urls = ctx.urls, clearError = ctx.clearError, placeErrors = ctx.placeErrors;


    function when() { return root.querySelector("input[name=when]:checked").value; }

    function recurringRule() {
      var freq = $("rec-freq").value;
      var time = ($("rec-time").value || "10:00").split(":");
      var hour = parseInt(time[0], 10), minute = parseInt(time[1], 10);
      var zone = $("rec-zone").value;
      if (freq === "custom") {
        return {cron: $("rec-cron").value.trim(), sentence: "custom rule " + $("rec-cron").value.trim() + " in " + zone};
      }
      var at = " at " + $("rec-time").value + " " + zone;
      if (freq === "day") { return {cron: minute + " " + hour + " * * *", sentence: "every day" + at}; }
      if (freq === "week") {
        var wd = parseInt($("rec-weekday").value, 10);
        return {cron: minute + " " + hour + " * * " + wd, sentence: "every week on " + DAYS[wd] + at};
      }
      var day = parseInt($("rec-monthday").value || "1", 10);
      return {cron: minute + " " + hour + " " + day + " * *", sentence: "every month on the " + day + (ORDINAL[day] || "th") + at};
    }

    function readSchedule() {
      var kind = when();
      if (kind === "once") { return {type: "once", local: $("once-local").value, zone: $("once-zone").value}; }
      if (kind === "recurring") { return {type: "recurring", cron: recurringRule().cron, timezone: $("rec-zone").value}; }
      if (kind === "local_time") { return {type: "local_time", date: $("local-date").value, time: $("local-time").value}; }
      if (kind === "smart") { return {type: "smart", date: $("smart-date").value, fallback_time: $("smart-fallback").value}; }
      return {type: "immediate"};
    }

    function showSchedule() {
      var kind = when();
      all(".schedule-part").forEach(function (n) { show(n, n.getAttribute("data-when") === kind); });
      var freq = $("rec-freq").value;
      all(".rec-week").forEach(function (n) { show(n, freq === "week"); });
      all(".rec-month").forEach(function (n) { show(n, freq === "month"); });
      all(".rec-simple").forEach(function (n) { show(n, freq !== "custom"); });
      all(".rec-custom").forEach(function (n) { show(n, freq === "custom"); });
      if (kind === "recurring") { $("rec-sentence").textContent = recurringRule().sentence; }
      nextTimes();
    }

    var timesTimer = null;
    function nextTimes() {
      clearTimeout(timesTimer);
      timesTimer = setTimeout(function () {
        var list = $("next-times");
        if (when() === "immediate") { show($("next-times-box"), false); return; }
        post(urls.schedule, {schedule: readSchedule()}).then(function (r) {
          list.innerHTML = "";
          clearError("schedule");
          if (!r.ok) { placeErrors(r.data.fields || {}, r.data.error); show($("next-times-box"), false); return; }
          r.data.next.forEach(function (t) {
            var li = document.createElement("li"); li.textContent = t; list.appendChild(li);
          });
          show($("next-times-box"), r.data.next.length > 0);
        });
      }, 250);
    }

    function loadSchedule(s) {
      if (!s) { return; }
      var radio = $("when-" + s.type);
      if (radio) { radio.checked = true; }
      if (s.type === "once" && s.local) {
        // the stored instant, as its wall-clock time in the shop's zone (the page works it out)
        $("once-local").value = s.local;
        $("once-zone").value = s.zone;
      } else if (s.type === "recurring") {
        $("rec-zone").value = s.timezone || $("rec-zone").value;
        var parts = (s.cron || "").split(/\s+/);
        var simple = parts.length === 5 && /^\d+$/.test(parts[0]) && /^\d+$/.test(parts[1]) && parts[3] === "*";
        var pad = function (n) { return ("0" + n).slice(-2); };
        if (simple && parts[2] === "*" && parts[4] === "*") { $("rec-freq").value = "day"; }
        else if (simple && parts[2] === "*" && /^[0-6]$/.test(parts[4])) { $("rec-freq").value = "week"; $("rec-weekday").value = parts[4]; }
        else if (simple && /^\d+$/.test(parts[2]) && parts[4] === "*") { $("rec-freq").value = "month"; $("rec-monthday").value = parts[2]; }
        else { $("rec-freq").value = "custom"; $("rec-cron").value = s.cron || ""; simple = false; }
        if (simple) { $("rec-time").value = pad(parts[1]) + ":" + pad(parts[0]); }
      } else if (s.type === "local_time") {
        $("local-date").value = s.date || "";
        $("local-time").value = (s.time || "10:00").slice(0, 5);
      } else if (s.type === "smart") {
        $("smart-date").value = s.date || "";
        $("smart-fallback").value = (s.fallback_time || "10:00").slice(0, 5);
      }
    }

    return {read: readSchedule, show: showSchedule, load: loadSchedule};
  };
})();
