/* The visual email editor: GrapesJS with its newsletter preset (vendored), Herald's blocks
   (text, image, button, product grid, coupon, divider) and a way in and out as one Jinja2 HTML
   document. Jinja stays as text nodes and attribute values, which GrapesJS keeps; what its
   serialiser escapes inside {{ }} and {% %} is put back on the way out. */
(function () {
  "use strict";

  var FONT = "font-family:Arial,Helvetica,sans-serif;";
  var PLACEHOLDER = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="200"><rect width="100%" height="100%" fill="#e5e7eb"/>' +
    '<text x="50%" y="50%" fill="#6b7280" font-family="Arial" font-size="20" text-anchor="middle">Image</text></svg>');
  var BLOCKS = [
    ["text", "Text", '<div style="' + FONT + 'font-size:15px;line-height:1.5;color:#1f2937;padding:10px">Hi {{ contact.first_name }}, write your message here.</div>'],
    ["image", "Image", '<img src="' + PLACEHOLDER + '" alt="" style="display:block;max-width:100%;margin:0 auto"/>'],
    ["button", "Button", '<div style="text-align:center;padding:12px"><a href="https://shop.example/" style="' + FONT + 'display:inline-block;padding:12px 26px;background:#2f6fed;color:#ffffff;text-decoration:none;border-radius:4px;font-weight:bold">Shop now</a></div>'],
    ["product-grid", "Product grid", '<div class="product-grid" style="' + FONT + 'padding:10px;text-align:center">{% for p in products %}<div class="product" style="display:inline-block;width:30%;margin:1%;vertical-align:top"><a href="{{ p.url }}" style="color:#1f2937;text-decoration:none"><strong>{{ p.name }}</strong></a><div style="color:#2f6fed">{{ p.price }}</div></div>{% endfor %}</div>'],
    ["coupon", "Coupon", '<div style="' + FONT + 'border:2px dashed #2f6fed;padding:16px;margin:10px;text-align:center"><div style="font-size:13px;color:#6b7280">Your code</div><div style="font-size:24px;font-weight:bold;letter-spacing:2px">{{ coupon.code }}</div></div>'],
    ["divider", "Divider", '<hr style="border:none;border-top:1px solid #d1d5db;margin:16px 0"/>']
  ];
  var JINJA = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|\{#[\s\S]*?#\}/g;
  var ENTITIES = {"&quot;": '"', "&#039;": "'", "&#39;": "'", "&gt;": ">", "&lt;": "<", "&amp;": "&"};

  /** Undo the HTML escaping GrapesJS applies inside Jinja tags (quotes, comparisons). */
  function restoreJinja(html) {
    return html.replace(JINJA, function (tag) {
      return tag.replace(/&quot;|&#0?39;|&gt;|&lt;|&amp;/g, function (e) { return ENTITIES[e]; });
    });
  }

  /** Split a stored document into its CSS and its body. */
  function split(source) {
    var doc = new DOMParser().parseFromString(source || "", "text/html");
    var css = [];
    doc.querySelectorAll("style").forEach(function (s) { css.push(s.textContent); s.remove(); });
    return {css: css.join("\n"), body: doc.body ? doc.body.innerHTML : ""};
  }

  function create(container, onChange, iconsCss) {
    var preset = window["grapesjs-preset-newsletter"];
    var editor = window.grapesjs.init({
      container: container,
      height: "560px",
      fromElement: false,
      storageManager: false,
      telemetry: false,  // GrapesJS reports usage to app.grapesjs.com unless told not to
      cssIcons: iconsCss || "",
      plugins: [preset && preset.default ? preset.default : preset],
      pluginsOpts: {"grapesjs-preset-newsletter": {blocks: [], inlineCss: false, showStylesOnChange: false}},
      assetManager: {upload: false, assets: []},
      canvas: {styles: [], scripts: []}
    });
    var blocks = editor.BlockManager;
    BLOCKS.forEach(function (b) {
      blocks.add(b[0], {label: b[1], category: "Herald", content: b[2], attributes: {"data-block": b[0]}});
    });
    var timer = null;
    editor.on("update", function () {
      if (!onChange) { return; }
      clearTimeout(timer);
      timer = setTimeout(onChange, 350);
    });
    return {
      editor: editor,
      /** The editor's content as one HTML document with its CSS in a style element. */
      getHtml: function () {
        var body = editor.getHtml().replace(/^<body[^>]*>/, "").replace(/<\/body>\s*$/, "");
        var css = editor.getCss({avoidProtected: true}) || "";
        var head = '<!doctype html>\n<html><head><meta charset="utf-8">' +
          (css.trim() ? "<style>" + css + "</style>" : "") + "</head>\n<body>";
        return restoreJinja(head + body + "</body></html>");
      },
      /** Load a stored document (or nothing, for an empty editor). */
      setHtml: function (source) {
        var parts = split(source);
        // styles first: setStyle replaces every rule, including those made from style attributes
        editor.setStyle(parts.css);
        editor.setComponents(parts.body);
      },
      isEmpty: function () { return editor.getComponents().length === 0; }
    };
  }

  window.HeraldEmailEditor = {create: create, restoreJinja: restoreJinja, blocks: BLOCKS};
})();
