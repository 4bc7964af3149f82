/* The 指标 (targets) tab of the search page: every target and reported figure
 * the documents state (GET /targets), filterable, each row linking to its
 * sentence in the document view, and exported as CSV (GET /targets.csv).
 * Server text is set with textContent, never as HTML. */
(function () {
  "use strict";

  var KEY_STORE = "policyqa-api-key";
  var KINDS = { target: "目标", reported: "已实现" };

  function $(id) { return document.getElementById(id); }

  function headers() {
    var key = "";
    try { key = window.localStorage.getItem(KEY_STORE) || ""; } catch (e) { /* private mode */ }
    return key ? { Authorization: "Bearer " + key } : {};
  }

  function query() {
    var form = $("targets-form");
    var params = new URLSearchParams();
    ["indicator", "subject", "year", "kind"].forEach(function (name) {
      var value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    });
    return params.toString();
  }

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function fetchOk(url) {
    return fetch(url, { headers: headers() }).then(function (response) {
      if (response.ok) return response;
      return response.json().catch(function () { return {}; }).then(function (data) {
        throw new Error((data.error && data.error.message) || ("HTTP " + response.status));
      });
    });
  }

  function load() {
    var status = $("targets-status");
    status.textContent = "正在载入…";
    status.className = "targets-status";
    fetchOk("/targets?" + query())
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var body = $("targets-table").querySelector("tbody");
        body.textContent = "";
        data.targets.forEach(function (r) {
          var tr = document.createElement("tr");
          tr.className = "target-row";
          var qualifier = r.qualifier === "=" ? "" : r.qualifier;
          var value = (r.direction || "") + qualifier + String(r.value) + r.unit;
          [r.subject || "—", r.indicator, value, KINDS[r.kind] || r.kind, r.year ? String(r.year) : r.period]
            .forEach(function (text) { tr.appendChild(cell(text)); });
          var source = document.createElement("td");
          var link = document.createElement("a");
          link.className = "target-link";
          link.href = "/doc/" + encodeURIComponent(r.doc_id) + "#" + r.start + "-" + r.end;
          link.target = "_blank";
          link.rel = "noopener";
          link.textContent = r.title;
          link.title = r.quote;
          source.appendChild(link);
          tr.appendChild(source);
          body.appendChild(tr);
        });
        status.textContent = data.total ? "共 " + data.total + " 条" : "没有符合条件的指标。";
      })
      .catch(function (error) {
        status.textContent = "无法载入指标：" + error.message;
        status.className = "targets-status targets-error";
      });
  }

  function exportCsv() {
    fetchOk("/targets.csv?" + query())
      .then(function (response) { return response.blob(); })
      .then(function (blob) {
        var link = document.createElement("a");
        link.href = URL.createObjectURL(blob);
        link.download = "targets.csv";
        document.body.appendChild(link);
        link.click();
        link.remove();
      })
      .catch(function (error) { $("targets-status").textContent = "导出失败：" + error.message; });
  }

  function show(tab) {
    Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (button) {
      var on = button.getAttribute("data-tab") === tab;
      button.classList.toggle("active", on);
      button.setAttribute("aria-selected", on ? "true" : "false");
    });
    $("policyqa-app").hidden = tab !== "search";
    $("targets-panel").hidden = tab !== "targets";
    if (tab === "targets") load();
  }

  Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (button) {
    button.addEventListener("click", function () { show(button.getAttribute("data-tab")); });
  });
  $("targets-form").addEventListener("submit", function (event) { event.preventDefault(); load(); });
  $("targets-csv").addEventListener("click", exportCsv);
})();
