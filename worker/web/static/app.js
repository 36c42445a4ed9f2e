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
  if (e.target.matches && e.target.matches("iframe.notice-frame")) fitFrame(e.target);
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
