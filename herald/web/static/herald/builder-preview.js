/* The builder's live preview: draws what the server rendered for the chosen member (email in
   a sandboxed frame at desktop or mobile width, an SMS with its encoding and segments, a post
   with its characters, member-day benefits per tier and the notice). */
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }

  function benefitWords(b) {
    var over = b.min_spend ? " orders over ¥" + b.min_spend : "";
    if (b.type === "coupon" && b.percent_off) { return b.percent_off + "% off coupon" + (over ? " on" + over : ""); }
    if (b.type === "coupon") { return "¥" + b.amount_off + " off" + over; }
    if (b.type === "free_shipping") { return "free shipping" + (over ? " on" + over : ""); }
    if (b.type === "gift") { return "a free gift (" + b.sku + ")"; }
    return "points × " + b.multiplier;
  }

  /** Show one preview answer (GET /campaigns/{id}/preview's shape). */
  function draw(d) {
    if (d.subject !== undefined) {
      $("preview-subject").textContent = d.subject;
      $("preview-frame").srcdoc = d.html || "<pre>" + (d.text || "").replace(/</g, "&lt;") + "</pre>";
    }
    if (d.encoding !== undefined) {
      $("preview-sms").textContent = d.body;
      $("preview-sms-meter").textContent = d.body.length + " characters · " + d.encoding.toUpperCase() + " · " + d.segments + " segment" + (d.segments === 1 ? "" : "s");
    }
    if (d.characters !== undefined) {
      $("preview-post").textContent = d.status;
      $("preview-post-meter").textContent = d.characters + " / 500 characters";
    }
    if (d.benefits !== undefined) {
      var rows = $("preview-benefits");
      rows.innerHTML = "";
      Object.keys(d.benefits).forEach(function (tier) {
        var b = d.benefits[tier];
        var tr = document.createElement("tr");
        [tier, benefitWords(b) + ", valid " + (b.valid_days || 1) + " day(s)"].forEach(function (t) {
          var td = document.createElement("td"); td.textContent = t; tr.appendChild(td);
        });
        rows.appendChild(tr);
      });
      $("preview-benefit").textContent = d.contact_id ? (d.benefit ? "This member gets: " + benefitWords(d.benefit) : "This member's tier has no benefit: not included.") : "";
      var notice = d.notice || {};
      $("preview-notice").textContent = (notice.email ? "Email: " + notice.email.subject + ". " : "") + (notice.sms ? "SMS: " + notice.sms.body : "");
    }
  }

  function width(kind) {
    $("preview-frame").className = "preview-frame " + kind;
    $("width-desktop").classList.toggle("active", kind === "desktop");
    $("width-mobile").classList.toggle("active", kind === "mobile");
  }

  window.HeraldPreview = {draw: draw, width: width};
})();
