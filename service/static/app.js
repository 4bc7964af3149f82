/* policyqa search box: question, cited answer, passages with highlighted matches.
 *
 * PolicyQA.mount(element, {api, key}) builds the whole box inside `element`
 * (the page at / and the embeddable widget use the same code). `api` is the
 * service's origin ("" for the same origin). Plain DOM, no build step; every
 * text from the server is set with textContent, never as HTML.
 */
(function () {
  "use strict";

  var EXAMPLES = [
    "哪个园区提出数字经济增加值占GDP比重达35%？",
    "璧山区今年一季度地区生产总值同比增长多少？",
    "Which park targets a 35% digital-economy share?"
  ];
  var MODES = [["hybrid", "混合检索"], ["lexical", "关键词"], ["dense", "语义"]];
  var KEY_STORE = "policyqa-api-key";
  var counter = 0;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "className") node.className = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function storedKey() {
    try { return window.localStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
  }

  function mount(root, options) {
    options = options || {};
    var api = (options.api || "").replace(/\/$/, "");
    var id = "pqa" + (++counter);
    var key = options.key || storedKey();

    var input = el("input", {
      className: "pqa-q", type: "search", maxlength: "2000", autocomplete: "off",
      placeholder: "输入问题，例如：" + EXAMPLES[0], "aria-label": "问题"
    });
    var button = el("button", { className: "pqa-submit", type: "submit", text: "提问" });
    var modes = el("div", { className: "pqa-modes", role: "radiogroup", "aria-label": "检索方式" },
      MODES.map(function (m, i) {
        var radio = el("input", { type: "radio", name: id + "-mode", value: m[0] });
        if (i === 0) radio.checked = true;
        return el("label", { className: "pqa-mode" }, [radio, el("span", { text: m[1] })]);
      }));
    var keyInput = el("input", { className: "pqa-key-input", type: "password", placeholder: "API 密钥", "aria-label": "API 密钥" });
    var keyRow = el("div", { className: "pqa-key" }, [el("span", { text: "此服务需要 API 密钥：" }), keyInput]);
    keyRow.hidden = true;
    var examples = el("div", { className: "pqa-examples" }, [el("span", { text: "示例：" })].concat(
      EXAMPLES.map(function (q) {
        var chip = el("button", { type: "button", className: "pqa-example", text: q });
        chip.addEventListener("click", function () { input.value = q; run(); });
        return chip;
      })));
    var form = el("form", { className: "pqa-form", role: "search" },
      [el("div", { className: "pqa-row" }, [input, button]), modes, keyRow, examples]);
    var status = el("div", { className: "pqa-status", role: "status", "aria-live": "polite" });
    var shortAnswer = el("p", { className: "pqa-short" });
    var answerText = el("p", { className: "pqa-answer-text" });
    var reason = el("p", { className: "pqa-reason" });
    var citations = el("ol", { className: "pqa-citations" });
    var answerBox = el("section", { className: "pqa-answer" },
      [el("h2", { text: "答案" }), shortAnswer, answerText, reason, citations]);
    var list = el("ol", { className: "pqa-list" });
    var listTitle = el("h2", { text: "相关段落" });
    var results = el("section", { className: "pqa-results" }, [listTitle, list]);
    answerBox.hidden = true;
    results.hidden = true;

    root.classList.add("pqa");
    root.textContent = "";
    [form, status, answerBox, results].forEach(function (n) { root.appendChild(n); });

    form.addEventListener("submit", function (event) { event.preventDefault(); run(); });

    function mode() {
      var checked = root.querySelector("input[name='" + id + "-mode']:checked");
      return checked ? checked.value : "hybrid";
    }

    function post(path, body) {
      var headers = { "Content-Type": "application/json" };
      if (key) headers.Authorization = "Bearer " + key;
      return fetch(api + path, { method: "POST", headers: headers, body: JSON.stringify(body) })
        .then(function (response) {
          return response.json().catch(function () { return {}; }).then(function (data) {
            if (!response.ok) {
              var error = new Error((data.error && data.error.message) || ("HTTP " + response.status));
              error.status = response.status;
              throw error;
            }
            return data;
          });
        });
    }

    function setStatus(text, kind) {
      status.textContent = text || "";
      status.className = "pqa-status" + (kind ? " pqa-" + kind : "");
    }

    function run() {
      var question = input.value.trim();
      if (!question) { setStatus("请输入问题。", "error"); input.focus(); return; }
      if (keyInput.value.trim()) {
        key = keyInput.value.trim();
        try { window.localStorage.setItem(KEY_STORE, key); } catch (e) { /* private mode */ }
      }
      button.disabled = true;
      button.textContent = "检索中…";
      root.classList.add("pqa-loading");
      setStatus("正在检索相关段落并生成答案…", "loading");
      var m = mode();
      Promise.all([
        post("/ask", { question: question, k: 5, mode: m }),
        post("/search", { query: question, k: 10, mode: m })
      ]).then(function (both) {
        keyRow.hidden = true;
        render(both[0], both[1]);
        setStatus("");
      }).catch(function (error) {
        answerBox.hidden = true;
        results.hidden = true;
        if (error.status === 401) {
          keyRow.hidden = false;
          keyInput.focus();
          setStatus("需要有效的 API 密钥：请在上方填写后重新提问。（" + error.message + "）", "error");
        } else if (error.status) {
          setStatus("出错了（" + error.status + "）：" + error.message, "error");
        } else {
          setStatus("无法连接到检索服务，请稍后再试。（" + error.message + "）", "error");
        }
      }).then(function () {
        button.disabled = false;
        button.textContent = "提问";
        root.classList.remove("pqa-loading");
      });
    }

    function render(ask, search) {
      // The list shows the search hits; a cited passage that is not among them comes first.
      var hits = search.hits.slice();
      var have = {};
      hits.forEach(function (h) { have[h.chunk_id] = true; });
      ask.citations.forEach(function (c) {
        if (have[c.chunk_id]) return;
        var passage = ask.passages.filter(function (p) { return p.chunk_id === c.chunk_id; })[0];
        if (passage) { hits.unshift(passage); have[c.chunk_id] = true; }
      });
      if (!ask.found && !hits.length) hits = ask.passages;

      answerBox.hidden = false;
      answerBox.classList.toggle("pqa-not-found", !ask.found);
      answerText.textContent = "";
      citations.textContent = "";
      reason.textContent = "";
      shortAnswer.textContent = "";
      shortAnswer.hidden = !(ask.found && ask.short_answer);
      if (ask.found && ask.short_answer) {
        // The span that answers, in bold above the quotes it comes from.
        shortAnswer.appendChild(el("strong", { className: "pqa-short-text", text: ask.short_answer.text }));
      }
      if (ask.found) {
        renderAnswer(ask);
      } else {
        answerText.textContent = "未找到可靠答案。";
        reason.textContent = (ask.reason || "") + (hits.length ? "下面是最接近的段落，仅供参考。" : "");
      }

      list.textContent = "";
      results.hidden = false;
      if (!hits.length) {
        listTitle.textContent = "相关段落";
        list.appendChild(el("li", { className: "pqa-empty", text: "没有找到相关段落。请换个说法，或检查筛选条件。" }));
        return;
      }
      listTitle.textContent = ask.found ? "相关段落" : "最接近的段落";
      hits.forEach(function (hit, i) { list.appendChild(card(hit, i + 1)); });
      ask.citations.forEach(function (c) {
        var item = list.querySelector("[data-chunk='" + cssEscape(c.chunk_id) + "']");
        if (item) {
          item.classList.add("pqa-cited");
          var badge = item.querySelector(".pqa-badge") || item.querySelector(".pqa-hit-head").appendChild(
            el("span", { className: "pqa-badge", text: "" }));
          badge.textContent = (badge.textContent ? badge.textContent + " " : "引用 ") + "[" + c.n + "]";
        }
      });
    }

    function renderAnswer(ask) {
      var byN = {};
      ask.citations.forEach(function (c) { byN[c.n] = c; });
      ask.answer.split(/(\[\d+\])/).forEach(function (part) {
        var m = /^\[(\d+)\]$/.exec(part);
        if (m && byN[m[1]]) {
          var link = el("a", { href: "#", className: "pqa-cite", text: "[" + m[1] + "]", title: byN[m[1]].title });
          link.addEventListener("click", function (e) { e.preventDefault(); show(byN[m[1]]); });
          answerText.appendChild(link);
        } else if (part) {
          answerText.appendChild(document.createTextNode(part));
        }
      });
      ask.citations.forEach(function (c) {
        var link = el("a", { href: "#", className: "pqa-cite-source", text: "《" + c.title + "》" });
        link.addEventListener("click", function (e) { e.preventDefault(); show(c); });
        citations.appendChild(el("li", { value: String(c.n) }, [
          link, el("span", { className: "pqa-source", text: " " + c.source + "，第 " + c.start + "–" + c.end + " 字 " }),
          docLink(c.doc_id, c.start, c.end, "查看原文")
        ]));
      });
    }

    function show(citation) {
      var item = list.querySelector("[data-chunk='" + cssEscape(citation.chunk_id) + "']");
      if (!item) return;
      Array.prototype.forEach.call(list.querySelectorAll(".pqa-active"), function (n) { n.classList.remove("pqa-active"); });
      var text = item.querySelector(".pqa-text");
      var passage = JSON.parse(item.getAttribute("data-passage"));
      text.textContent = "";
      fill(text, passage, { start: citation.start - passage.start, end: citation.end - passage.start });
      item.classList.add("pqa-active");
      item.scrollIntoView({ behavior: "smooth", block: "center" });
    }

    // The document view with the span [start, end) highlighted, in a new tab
    // (the widget must not navigate its host page away).
    function docLink(docId, start, end, label) {
      return el("a", {
        className: "pqa-doc-link", href: api + "/doc/" + encodeURIComponent(docId) + "#" + start + "-" + end,
        target: "_blank", rel: "noopener", text: label
      });
    }

    function card(hit, rank) {
      var text = el("p", { className: "pqa-text" });
      fill(text, hit, null);
      var meta = [hit.source];
      if (hit.section && hit.section !== hit.title) meta.push(hit.section);
      meta.push("相关度 " + hit.score.toFixed(3));
      var item = el("li", { className: "pqa-hit", "data-chunk": hit.chunk_id }, [
        el("div", { className: "pqa-hit-head" }, [
          el("span", { className: "pqa-rank", text: String(rank) }),
          el("strong", { className: "pqa-title", text: hit.title })
        ]),
        el("div", { className: "pqa-meta" }, [
          document.createTextNode(meta.join(" · ") + " · "), docLink(hit.doc_id, hit.start, hit.end, "原文")
        ]),
        text
      ]);
      item.setAttribute("data-passage", JSON.stringify({ text: hit.text, start: hit.start, highlights: hit.highlights || [] }));
      return item;
    }

    // Passage text with <mark> on query matches, inside one <mark> on the cited quote (relative span).
    function fill(node, passage, quote) {
      var text = passage.text;
      var cuts = [0, text.length];
      var marks = passage.highlights || [];
      marks.forEach(function (h) { cuts.push(h.start, h.end); });
      if (quote) cuts.push(Math.max(0, quote.start), Math.min(text.length, quote.end));
      cuts = cuts.filter(function (c, i, all) { return all.indexOf(c) === i; }).sort(function (a, b) { return a - b; });
      var quoteMark = null;
      for (var i = 0; i + 1 < cuts.length; i++) {
        var a = cuts[i], b = cuts[i + 1];
        var piece = document.createTextNode(text.slice(a, b));
        var hit = marks.some(function (h) { return h.start <= a && b <= h.end; });
        var wrapped = hit ? el("mark", { className: "pqa-match" }, [piece]) : piece;
        if (quote && quote.start <= a && b <= quote.end) {
          if (!quoteMark) quoteMark = node.appendChild(el("mark", { className: "pqa-quote" }));
          quoteMark.appendChild(wrapped);
        } else {
          quoteMark = null;
          node.appendChild(wrapped);
        }
      }
    }

    function cssEscape(value) {
      return window.CSS && CSS.escape ? CSS.escape(value) : String(value).replace(/[^\w-]/g, "\\$&");
    }

    return { ask: function (q) { input.value = q; run(); } };
  }

  window.PolicyQA = { mount: mount };
})();
