// 企业服务热线 console: confirmations, canned replies, live updates (server-sent events).
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });
  document.querySelectorAll("select[data-canned-target]").forEach(function (select) {
    select.addEventListener("change", function () {
      var target = document.getElementById(select.getAttribute("data-canned-target"));
      if (target && select.value) { target.value = select.value; target.focus(); }
      select.value = "";
    });
  });
  var reply = document.getElementById("reply-text");
  if (reply) {
    reply.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); reply.form.requestSubmit(); }
    });
  }
  var log = document.getElementById("chat-log");
  if (log) { log.scrollTop = log.scrollHeight; }

  // Hot issues (dashboard): refresh the panel when one appears or changes.
  var hot = document.querySelector("[data-live=hot]");
  if (hot && window.EventSource) {
    var hotBody = function () { return hot.querySelector("#hot-panel-body"); };
    var known = function () {
      var ids = {};
      hot.querySelectorAll("[data-issue]").forEach(function (row) { ids[row.getAttribute("data-issue")] = true; });
      return ids;
    };
    var hotSource = new EventSource("/console/events?since=" + encodeURIComponent(hot.getAttribute("data-since") || ""));
    hotSource.addEventListener("change", function (ev) {
      var data = {};
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (data.kind !== "hot_issue") { return; }
      var before = known();
      fetch(hot.getAttribute("data-refresh"), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          var old = hotBody();
          if (old) { old.outerHTML = html; }
          var fresh = Object.keys(known()).some(function (id) { return !before[id]; });
          var alert = document.getElementById("hot-alert");
          if (fresh && alert) { alert.hidden = false; }
        }).catch(function () {});
    });
  }

  var queue = document.querySelector("[data-live=queue]");
  var chat = document.querySelector("[data-live=chat]");
  if (!queue && !chat) { return; }
  var busy = false, again = false;

  function refreshQueue() {
    return fetch(queue.getAttribute("data-refresh"), {credentials: "same-origin"})
      .then(function (r) { if (r.status === 401) { location.reload(); } return r.text(); })
      .then(function (html) { queue.innerHTML = html; });
  }
  function refreshChat() {
    var url = chat.getAttribute("data-refresh") + "?after=" + chat.getAttribute("data-after");
    return fetch(url, {credentials: "same-origin"}).then(function (r) {
      if (r.status === 401) { location.reload(); return null; }
      var mode = r.headers.get("X-Mode"), last = r.headers.get("X-Last-Id");
      return r.text().then(function (html) {
        var old = chat.querySelector("[data-pending]");
        if (old) { old.remove(); }
        var box = document.createElement("div"); box.innerHTML = html;
        while (box.firstChild) { chat.appendChild(box.firstChild); }
        if (last) { chat.setAttribute("data-after", last); }
        chat.scrollTop = chat.scrollHeight;
        var badge = document.getElementById("mode");
        if (mode && badge && badge.getAttribute("data-mode") && badge.getAttribute("data-mode") !== mode) { location.reload(); }
      });
    });
  }
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    var work = queue ? refreshQueue() : refreshChat();
    work.catch(function () {}).then(function () {
      busy = false;
      if (again) { again = false; refresh(); }
    });
  }
  var live = queue || chat;
  var source = new EventSource("/console/events?since=" + encodeURIComponent(live.getAttribute("data-since") || ""));
  source.addEventListener("change", function (ev) {
    var data = {};
    try { data = JSON.parse(ev.data); } catch (e) { return; }
    if (queue || (chat && data.conversation === chat.getAttribute("data-conversation"))) { refresh(); }
  });
  // A safety net if the event stream drops: refresh every 20 s anyway.
  window.setInterval(refresh, 20000);
})();
