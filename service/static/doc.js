/* The document view at /doc/{doc_id}#start-end: the whole stored text of one
 * document with the cited span [start, end) highlighted and scrolled into view.
 * Offsets are those of every citation and hit (character offsets into the
 * document's stored text), so the highlighted text equals the quote. Text from
 * the server is set with textContent, never as HTML.
 */
(function () {
  "use strict";

  var KEY_STORE = "policyqa-api-key";
  var LABELS = [
    ["doc_number", "发文字号"], ["issuer", "发文机关"], ["issued", "成文日期"],
    ["published", "发布日期"], ["effective", "施行日期"]
  ];

  function $(id) { return document.getElementById(id); }

  function storedKey() {
    try { return window.localStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
  }

  function span() {
    var m = /^#(\d+)-(\d+)$/.exec(location.hash);
    return m ? { start: Number(m[1]), end: Number(m[2]) } : null;
  }

  // The page a character offset falls on: the last page start at or before it (PDFs).
  function pageOf(pages, offset) {
    var page = 0;
    for (var i = 0; i < pages.length; i++) if (pages[i] <= offset) page = i + 1;
    return page;
  }

  function render(doc) {
    document.title = doc.title + " · 原文";
    $("doc-title").textContent = doc.title;
    $("doc-source").textContent = doc.source;
    var meta = $("doc-meta");
    meta.textContent = "";
    LABELS.forEach(function (pair) {
      var value = doc.metadata[pair[0]];
      if (value === undefined || value === null || value === "") return;
      var dt = document.createElement("dt");
      dt.textContent = pair[1];
      var dd = document.createElement("dd");
      dd.textContent = String(value);
      meta.appendChild(dt);
      meta.appendChild(dd);
    });
    meta.hidden = !meta.childNodes.length;

    // Offsets count characters (code points), as the server does; a JS string
    // counts UTF-16 units, which differ after a rare character (CJK Extension B).
    var chars = Array.from(doc.text);
    var cited = span();
    var article = $("doc-text");
    article.textContent = "";
    if (cited && cited.start < cited.end && cited.end <= chars.length) {
      article.appendChild(document.createTextNode(chars.slice(0, cited.start).join("")));
      var mark = document.createElement("mark");
      mark.id = "cited";
      mark.className = "doc-cited-span";
      mark.textContent = chars.slice(cited.start, cited.end).join("");
      article.appendChild(mark);
      article.appendChild(document.createTextNode(chars.slice(cited.end).join("")));
      var where = "引用位置：第 " + cited.start + "–" + cited.end + " 字";
      var pages = doc.pages || [];
      if (pages.length) where += "，第 " + pageOf(pages, cited.start) + " 页";
      $("doc-cited").textContent = where;
      $("doc-cited").hidden = false;
    } else {
      article.textContent = doc.text;
      if (cited) {
        $("doc-cited").textContent = "引用位置超出了原文范围（原文共 " + chars.length + " 字）。";
        $("doc-cited").hidden = false;
      }
    }
    article.hidden = false;
    $("doc-status").textContent = "";
    var target = $("cited");
    if (target) target.scrollIntoView({ block: "center" });
  }

  function fail(message) {
    $("doc-status").textContent = "无法载入原文：" + message;
    $("doc-status").className = "pqa-status pqa-error";
  }

  // With API keys set, a widget on another site keeps its key there: ask for it here once.
  function askForKey() {
    var form = $("doc-key");
    form.hidden = false;
    form.onsubmit = function (event) {
      event.preventDefault();
      try { window.localStorage.setItem(KEY_STORE, $("doc-key-input").value.trim()); } catch (e) { /* private mode */ }
      form.hidden = true;
      load();
    };
  }

  function load() {
    var id;
    try {
      id = decodeURIComponent(location.pathname.replace(/\/$/, "").split("/").pop());
    } catch (e) {
      fail("地址中的文档编号无效。");
      return;
    }
    var headers = {};
    var key = storedKey();
    if (key) headers.Authorization = "Bearer " + key;
    fetch("/documents/" + encodeURIComponent(id), { headers: headers })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (response.status === 401) askForKey();
          if (!response.ok) throw new Error((data.error && data.error.message) || ("HTTP " + response.status));
          return data;
        });
      })
      .then(render)
      .catch(function (error) { fail(error.message); });
  }

  window.addEventListener("hashchange", load);
  load();
})();
