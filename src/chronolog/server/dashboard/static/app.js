// chronolog dashboard: progressive enhancement only; every page works without it.
(function () {
  "use strict";
  // Remember the browser's time zone, so days start at local midnight server-side.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("chronolog_tz=") === -1) {
      document.cookie = "chronolog_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=strict";
    }
  } catch (e) { /* no Intl: UTC it is */ }

  // Selects, radios and checkboxes marked data-autosubmit submit their form on change.
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) el.form.submit();
  });

  // Choosing a custom date picks the "Custom" range.
  document.querySelectorAll('.filters .custom input').forEach(function (input) {
    input.addEventListener("input", function () {
      var custom = document.querySelector('.filters input[name=range][value=custom]');
      if (custom) custom.checked = true;
    });
  });

  // A job's log: new lines scroll in while it runs; the state badge and progress follow.
  var log = document.getElementById("log");
  if (log && window.EventSource && !log.hasAttribute("data-finished")) {
    var logSource = new EventSource(log.getAttribute("data-stream"));
    logSource.addEventListener("line", function (ev) {
      var near = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      var holder = document.createElement("ol");
      holder.innerHTML = ev.data;
      var item = holder.firstElementChild;
      if (!item || log.querySelector('li[data-id="' + item.getAttribute("data-id") + '"]')) return;
      log.appendChild(item);
      var empty = document.getElementById("log-empty");
      if (empty) empty.remove();
      if (near) log.scrollTop = log.scrollHeight;
    });
    logSource.addEventListener("state", function (ev) {
      // The server renders the page's live parts as the page itself does: the badge
      // (colour and buttons), the facts line (attempt, heartbeat, progress), the history.
      var st = JSON.parse(ev.data);
      [["job-status", st.status], ["job-facts", st.facts], ["job-side", st.side]].forEach(function (part) {
        var el = document.getElementById(part[0]);
        if (el && typeof part[1] === "string") el.innerHTML = part[1];
      });
      var notice = document.getElementById("notice");
      if (notice) notice.remove();
    });
    logSource.addEventListener("end", function () {
      logSource.close();
      var live = document.getElementById("log-live");
      if (live) live.hidden = true;
    });
  }

  // Live activity: new rows arrive over Server-Sent Events; Pause holds them back.
  var live = document.getElementById("live");
  var rows = document.getElementById("rows");
  if (!live || !rows || !window.EventSource) return;
  var paused = false, held = [];
  var button = document.getElementById("pause");
  var state = document.getElementById("live-state");
  var pending = document.getElementById("pending");
  function add(html) {
    var tbody = document.createElement("tbody");
    tbody.innerHTML = html;
    var row = tbody.firstElementChild;
    if (!row || rows.querySelector('tr[data-id="' + row.getAttribute("data-id") + '"]')) return;
    rows.insertBefore(row, rows.firstChild);
    var empty = document.querySelector("p.empty");
    if (empty) empty.remove();
    while (rows.children.length > 200) rows.lastElementChild.remove();
  }
  function show() {
    pending.textContent = held.length ? held.length + " new while paused" : "";
  }
  button.addEventListener("click", function () {
    paused = !paused;
    button.setAttribute("aria-pressed", String(paused));
    button.textContent = paused ? "Resume" : "Pause";
    state.textContent = paused ? "Paused" : "Live";
    live.classList.toggle("paused", paused);
    if (!paused) { held.forEach(add); held = []; }
    show();
  });
  var source = new EventSource(live.getAttribute("data-stream"));
  source.addEventListener("row", function (ev) {
    if (paused) { held.push(ev.data); show(); } else { add(ev.data); }
  });
  source.addEventListener("open", function () { live.classList.remove("off"); if (!paused) state.textContent = "Live"; });
  source.addEventListener("error", function () { live.classList.add("off"); if (!paused) state.textContent = "Reconnecting…"; });
})();
