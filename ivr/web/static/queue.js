// Keeps the console's live parts current without a reload: a small poll, no framework.
// The queue page (callbacks due, callers on the line, your call) and the supervisor page (the
// queue and each advisor's state) each draw what their view has.
(function () {
  var script = document.currentScript;
  var pollUrl = script.dataset.poll, loginUrl = script.dataset.login;
  function cell(text, label) {
    var td = document.createElement("td"); td.textContent = text;
    if (label) { td.dataset.label = label; }
    return td;
  }
  // Redraws a table's rows from the view's list named by its data-rows, each cell the field its
  // column's data-key names; each cell names its column (data-label), so the table still reads
  // as cards on a phone. No rows: the table's data-empty.
  function fill(table, rows) {
    var columns = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return { label: th.textContent.trim(), key: th.dataset.key };
    });
    var body = table.tBodies[0];
    body.replaceChildren();
    if (!rows.length) {
      var tr = document.createElement("tr"); tr.className = "empty";
      var td = cell(table.dataset.empty); td.colSpan = columns.length;
      tr.appendChild(td); body.appendChild(tr);
    }
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      columns.forEach(function (c) { tr.appendChild(cell(String(row[c.key]), c.label)); });
      body.appendChild(tr);
    });
  }
  function due(view) {
    var columns = Array.prototype.map.call(
      document.querySelectorAll("#due thead th"), function (th) { return th.textContent.trim(); });
    var line = document.getElementById("line");
    line.textContent = view.open ? "Open" : "Closed";
    line.className = "badge " + (view.open ? "open" : "closed");
    document.getElementById("due-count").textContent = view.due.length;
    document.getElementById("later-count").textContent = view.waiting_later;
    document.getElementById("held-count").textContent = view.held;
    var body = document.querySelector("#due tbody");
    body.replaceChildren();
    if (!view.due.length) {
      var tr = document.createElement("tr"); tr.className = "empty";
      var td = cell("Nobody is waiting."); td.colSpan = 7; tr.appendChild(td); body.appendChild(tr);
    }
    view.due.forEach(function (cb) {
      var tr = document.createElement("tr");
      var plan = cb.plan + (cb.words ? " - their words: " + cb.words : "");
      [cb.number, cb.waited, plan, cb.voicemail ? "yes" : "no", cb.attempts, cb.source,
       cb.language]
        .forEach(function (t, i) { tr.appendChild(cell(String(t), columns[i])); });
      if (cb.urgent) {
        tr.className = "urgent";
        var urgent = document.createElement("strong");
        urgent.className = "badge urgent"; urgent.textContent = "urgent";
        tr.children[1].append(" ", urgent);
      }
      if (cb.last_day) {
        if (!cb.urgent) { tr.className = "last-day"; }
        var flag = document.createElement("strong");
        flag.className = "badge last"; flag.textContent = cb.overdue ? "overdue" : "last day";
        tr.children[1].append(" ", flag);
      }
      body.appendChild(tr);
    });
    var mine = document.getElementById("mine");
    if (view.mine) {
      if (mine.hidden) { window.location.reload(); return; }
      document.getElementById("call-state").textContent = view.mine.state;
    } else if (!mine.hidden) {
      window.location.reload();
    }
  }
  function render(view) {
    document.querySelectorAll("table[data-rows]").forEach(function (table) {
      var rows = view[table.dataset.rows];
      if (rows) { fill(table, rows); }
    });
    document.querySelectorAll("[data-count]").forEach(function (e) {
      var rows = view[e.dataset.count];
      if (rows) { e.textContent = rows.length; }
    });
    if (view.due) { due(view); }
  }
  // A poll that fails (the store out of reach, the app restarting, no network) says so at the
  // top of the page, once, until a poll succeeds: what is shown may be out of date.
  function stale(failed) {
    var notice = document.getElementById("stale");
    if (!failed) { if (notice) { notice.remove(); } return; }
    if (notice) { return; }
    notice = document.createElement("p");
    notice.id = "stale"; notice.className = "flash error"; notice.setAttribute("role", "alert");
    notice.textContent = "The console can't reach its data just now, so this page may be out " +
      "of date. Calls are still answered. It tries again every few seconds.";
    document.querySelector("main").prepend(notice);
  }
  function poll() {
    fetch(pollUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (r.status === 401) { window.location.href = loginUrl; return null; }
        stale(!r.ok);
        return r.ok ? r.json() : null;
      })
      .then(function (view) { if (view) { render(view); } })
      .catch(function () { stale(true); })
      .finally(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 3000);
})();
