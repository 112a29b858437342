// Keeps the queue page current without a reload: a small poll, no framework.
(function () {
  var script = document.currentScript;
  var pollUrl = script.dataset.poll, loginUrl = script.dataset.login;
  // Each cell names its column (data-label), so the table still reads as cards on a phone.
  var columns = Array.prototype.map.call(
    document.querySelectorAll("#due thead th"), function (th) { return th.textContent; });
  function cell(text, label) {
    var td = document.createElement("td"); td.textContent = text;
    if (label) { td.dataset.label = label; }
    return td;
  }
  function render(view) {
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
      var td = cell("Nobody is waiting."); td.colSpan = 6; tr.appendChild(td); body.appendChild(tr);
    }
    view.due.forEach(function (cb) {
      var tr = document.createElement("tr");
      [cb.number, cb.waited, cb.plan, cb.voicemail ? "yes" : "no", cb.attempts, cb.source]
        .forEach(function (t, i) { tr.appendChild(cell(String(t), columns[i])); });
      if (cb.last_day) {
        tr.className = "last-day";
        var flag = document.createElement("strong");
        flag.className = "badge last"; flag.textContent = "last day";
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
  function poll() {
    fetch(pollUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (r.status === 401) { window.location.href = loginUrl; return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (view) { if (view) { render(view); } })
      .catch(function () {})
      .finally(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 3000);
})();
