// The preview and ops pages' only script: width buttons, frames sized to the mail and
// confirmation before replays.
"use strict";
// The frames are sandboxed without scripts but same-origin, so their height is readable.
function fitFrame(frame) {
  var doc = frame.contentDocument;
  if (!doc || !doc.documentElement) return;
  frame.style.height = "0px";
  frame.style.height = doc.documentElement.scrollHeight + "px";
}
function fitFrames(root) {
  (root || document).querySelectorAll("iframe.notice-frame").forEach(fitFrame);
}
document.addEventListener("load", function (e) {
  if (!(e.target.matches && e.target.matches("iframe.notice-frame"))) return;
  if (e.target.dataset.scheme) applyScheme(e.target, e.target.dataset.scheme);
  fitFrame(e.target);
}, true);
document.addEventListener("DOMContentLoaded", function () { fitFrames(); });
window.addEventListener("resize", function () { fitFrames(); });
document.addEventListener("click", function (e) {
  var button = e.target.closest("button[data-width]");
  if (!button) return;
  var group = button.closest("[data-frames]") || document;
  group.querySelectorAll("iframe.notice-frame").forEach(function (frame) {
    frame.style.width = button.dataset.width + "px";
  });
  group.querySelectorAll("button[data-width]").forEach(function (other) {
    other.setAttribute("aria-pressed", String(other === button));
  });
  fitFrames(group);
});
document.addEventListener("submit", function (e) {
  var form = e.target;
  var question = form.dataset.confirm;
  if (!question) return;
  if (!window.confirm(question)) {
    e.preventDefault();
    return;
  }
  // The server asks again unless the form says the operator confirmed.
  if (form.dataset.confirmField !== undefined) {
    var field = form.querySelector('input[name="confirm"]');
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "confirm";
      form.appendChild(field);
    }
    field.value = "yes";
  }
});
// Tabs: one view of the mail at a time (without this script every view shows).
function showTab(section, name) {
  section.querySelectorAll("[data-tab]").forEach(function (tab) {
    tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
  });
  section.querySelectorAll("[data-panel]").forEach(function (panel) {
    panel.hidden = panel.dataset.panel !== name;
  });
  if (name === "html") fitFrames(section);
}
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-frames]").forEach(function (section) {
    if (section.querySelector("[data-tab]")) showTab(section, "html");
  });
});
document.addEventListener("click", function (e) {
  var tab = e.target.closest("button[data-tab]");
  if (tab) showTab(tab.closest("[data-frames]"), tab.dataset.tab);
});
// Light / dark: the mail's own prefers-color-scheme rules, switched on or off in the frame.
function applyScheme(frame, scheme) {
  var doc = frame.contentDocument;
  frame.dataset.scheme = scheme;
  frame.style.colorScheme = scheme;
  if (!doc) return;
  Array.prototype.forEach.call(doc.styleSheets, function (sheet) {
    Array.prototype.forEach.call(sheet.cssRules, function (rule) {
      if (!rule.media) return;
      if (rule.originalMedia === undefined) rule.originalMedia = rule.media.mediaText;
      var original = rule.originalMedia;
      if (!/prefers-color-scheme:\s*(dark|light)/.test(original)) return;
      var wanted = new RegExp("prefers-color-scheme:\\s*" + scheme).test(original);
      rule.media.mediaText = wanted ? "all" : "not all";
    });
  });
  fitFrame(frame);
}
document.addEventListener("click", function (e) {
  var button = e.target.closest("button[data-scheme]");
  if (!button) return;
  var group = button.closest("[data-frames]") || document;
  group.querySelectorAll("iframe.notice-frame").forEach(function (frame) {
    applyScheme(frame, button.dataset.scheme);
  });
  group.querySelectorAll("button[data-scheme]").forEach(function (other) {
    other.setAttribute("aria-pressed", String(other === button));
  });
});
// The index's search box filters rows as one types (the form searches without script).
document.addEventListener("input", function (e) {
  var box = e.target.closest("input[data-filter]");
  if (!box) return;
  var wanted = box.value.trim().toLowerCase();
  document.querySelectorAll(box.dataset.filter).forEach(function (row) {
    row.hidden = wanted !== "" && row.dataset.search.toLowerCase().indexOf(wanted) < 0;
  });
});
// Live reload: preview pages poll the templates' fingerprint and reload when it changes.
document.addEventListener("DOMContentLoaded", function () {
  var live = document.querySelector("[data-live]");
  if (!live) return;
  var seen = null;
  function poll() {
    fetch(live.dataset.live, { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        if (seen !== null && data.version !== seen) {
          window.location.reload();
          return;
        }
        seen = data.version;
      })
      .catch(function () { /* the server is restarting: try again next time */ })
      .then(function () { window.setTimeout(poll, Number(live.dataset.liveMs) || 1500); });
  }
  poll();
});
