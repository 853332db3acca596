/* global document, window, fetch, setTimeout, DOMParser, EventSource */
// The console's live updates in the browser (the server side is src/console/live.ts). Every element with a
// data-live-url opens one EventSource; the browser resends the last event id when it reconnects, so nothing is
// missed. On a task page (#trajectory) each agent step is appended to #trajectory-steps as it is recorded; on
// any page, an audit record is listed in the element's activity list, and a record of what the page shows
// refreshes the page's state sections in place (the server renders them; this script only swaps them).
(function () {
  "use strict";
  var REFRESHED = ["requirements-columns", "tasks-columns", "task-facts", "routing", "verdict", "evidence", "audit-events"];
  var refreshTimer = null;

  function cell(row, text, pre) {
    var td = document.createElement("td");
    var target = td;
    if (pre) {
      target = document.createElement(pre);
      td.appendChild(target);
    }
    target.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(td);
  }

  function appendStep(body, step) {
    if (body.querySelector('tr[data-run-id="' + step.runId + '"][data-step="' + step.step + '"]')) return;
    var row = document.createElement("tr");
    row.className = "step live-new";
    row.setAttribute("data-run-id", String(step.runId));
    row.setAttribute("data-step", String(step.step));
    var tokens = (step.inputTokens || 0) + (step.outputTokens || 0);
    cell(row, step.runId);
    cell(row, step.step);
    cell(row, step.kind);
    cell(row, step.tool);
    cell(row, step.arguments, "code");
    cell(row, step.exitCode);
    cell(row, tokens || "");
    cell(row, step.costUsd === null ? "" : "$" + Number(step.costUsd).toFixed(4));
    cell(row, step.observation, "pre");
    body.appendChild(row);
  }

  function listAudit(root, event) {
    var list = root.querySelector("ol.live-activity");
    if (!list) {
      list = document.createElement("ol");
      list.className = "live-activity";
      root.appendChild(list);
    }
    var item = document.createElement("li");
    item.setAttribute("data-seq", String(event.seq));
    item.textContent = event.ts + " " + event.actor + " " + event.action + " " + event.subject;
    list.insertBefore(item, list.firstChild);
    while (list.children.length > 20) list.removeChild(list.lastChild);
  }

  // Several records often come together (a decision and its state change): one refresh after they settle.
  function scheduleRefresh() {
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          return response.ok ? response.text() : null;
        })
        .then(function (text) {
          if (text === null) return;
          var fresh = new DOMParser().parseFromString(text, "text/html");
          REFRESHED.forEach(function (id) {
            var now = document.getElementById(id);
            var next = fresh.getElementById(id);
            if (now && next) now.replaceWith(document.importNode(next, true));
          });
        })
        .catch(function () {
          /* the next record tries again */
        });
    }, 300);
  }

  function watch(root) {
    var source = new EventSource(root.getAttribute("data-live-url"));
    var taskId = root.getAttribute("data-task-id");
    source.addEventListener("open", function () {
      root.setAttribute("data-live-state", "open");
    });
    source.addEventListener("error", function () {
      root.setAttribute("data-live-state", "reconnecting");
    });
    source.addEventListener("step", function (message) {
      var body = document.getElementById("trajectory-steps");
      if (body) appendStep(body, JSON.parse(message.data));
    });
    source.addEventListener("audit", function (message) {
      var event = JSON.parse(message.data);
      listAudit(root, event);
      if (!taskId || String(event.taskId) === taskId) scheduleRefresh();
    });
    source.addEventListener("reset", function () {
      source.close();
      window.location.reload();
    });
  }

  function start() {
    var roots = document.querySelectorAll("[data-live-url]");
    for (var i = 0; i < roots.length; i++) watch(roots[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
