// Small progressive enhancements for the dashboard; every action still works as a plain form.
(function () {
  "use strict";

  function on(selector, event, handler) {
    document.addEventListener(event, function (e) {
      var target = e.target.closest(selector);
      if (target) handler(e, target);
    });
  }

  // Forms that deploy take a few seconds: confirm first if asked, then show it is working.
  on("form[data-confirm]", "submit", function (e, form) {
    if (!window.confirm(form.dataset.confirm)) e.preventDefault();
  });
  on("form[data-busy]", "submit", function (e, form) {
    if (e.defaultPrevented) return;
    form.classList.add("busy");
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.dataset.label = button.textContent;
      button.textContent = form.dataset.busy;
      // Disable after the submit has been dispatched, or the browser would drop it.
      setTimeout(function () { button.disabled = true; }, 0);
    });
  });

  on("[data-copy]", "click", function (e, button) {
    var text = document.querySelector(button.dataset.copy).textContent.trim();
    navigator.clipboard.writeText(text).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    });
  });

  on("[data-reveal]", "click", function (e, button) {
    var row = button.closest("tr");
    var shown = row.querySelector(".revealed").hidden;
    row.querySelector(".revealed").hidden = !shown;
    row.querySelector(".masked").hidden = shown;
    button.textContent = shown ? "Hide" : "Reveal";
  });

  on("[data-edit-key]", "click", function (e, button) {
    var row = button.closest("tr");
    var form = document.getElementById("config-form");
    form.elements.key.value = button.dataset.editKey;
    form.elements.value.value = row.querySelector(".revealed").textContent;
    form.elements.value.focus();
    form.elements.value.select();
  });

  // Live logs over Server-Sent Events: append each line, stop at the "end" event.
  function follow(pre) {
    var source = new EventSource(pre.dataset.stream);
    var state = document.getElementById("log-state");
    // A reconnect replays the log from its start: begin again rather than repeat lines.
    source.onopen = function () { pre.textContent = ""; };
    source.onmessage = function (e) {
      var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      pre.appendChild(document.createTextNode(JSON.parse(e.data) + "\n"));
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    };
    source.addEventListener("end", function (e) {
      source.close();
      var status = JSON.parse(e.data);
      if (state) state.textContent = "finished";
      var badge = pre.dataset.statusTarget && document.querySelector(pre.dataset.statusTarget);
      if (badge && status) {
        badge.textContent = status;
        badge.className = "badge build-" + status;
      }
      pre.dataset.ended = "true";
      // A deploy action: show the page as it is now, with the outcome as a message.
      if (pre.hasAttribute("data-reload-on-end")) window.location.replace(window.location.href);
    });
    source.onerror = function () {
      if (state && pre.dataset.ended !== "true") state.textContent = "reconnecting…";
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("pre[data-stream]").forEach(follow);
  });
})();
