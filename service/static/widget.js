/* policyqa widget: one tag puts the search box into any page.
 *
 *   <script src="https://HOST/widget.js" data-api="https://HOST"></script>
 *
 * Optional attributes: data-target="#css-selector" (where to put the box; by
 * default right after the tag), data-key="..." (an API key, only where the page
 * itself is private: anyone who can read the page can read the key).
 * The box lives in a shadow root, so the host page's CSS and this box's CSS
 * never meet. The host's origin must be listed in POLICYQA_CORS_ORIGINS.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var api = (script.getAttribute("data-api") || new URL(script.src, location.href).origin).replace(/\/$/, "");
  var host = document.createElement("div");
  host.className = "policyqa-widget";
  var target = script.getAttribute("data-target") && document.querySelector(script.getAttribute("data-target"));
  if (target) target.appendChild(host);
  else script.parentNode.insertBefore(host, script.nextSibling);

  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var style = document.createElement("link");
  style.rel = "stylesheet";
  style.href = api + "/static/style.css";
  root.appendChild(style);
  var box = document.createElement("div");
  box.className = "pqa pqa-compact";
  box.textContent = "正在加载检索框…";
  root.appendChild(box);

  function start() {
    window.PolicyQA.mount(box, { api: api, key: script.getAttribute("data-key") || "" });
  }
  if (window.PolicyQA) { start(); return; }
  var code = document.createElement("script");
  code.src = api + "/static/app.js";
  code.onload = start;
  code.onerror = function () { box.textContent = "检索框加载失败：无法连接到 " + api; };
  document.head.appendChild(code);
})();
