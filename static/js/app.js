// Behaviour that the pages share. No inline scripts: the Content Security Policy forbids them.
(function () {
  "use strict";

  // Translated sentences come from data-msg-* attributes that the page renders on <body>.
  function text_(key, fallback) {
    return document.body.dataset["msg" + key.charAt(0).toUpperCase() + key.slice(1)] || fallback;
  }

  function toast(message, level) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var item = document.createElement("div");
    item.className = "toast toast-" + (level || "info");
    item.setAttribute("role", level === "error" ? "alert" : "status");
    var text = document.createElement("p");
    text.textContent = message; // text, never HTML: names come from the provider
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", text_("dismiss", "Dismiss"));
    close.textContent = "×";
    item.appendChild(text);
    item.appendChild(close);
    box.appendChild(item);
    if (level !== "error") {
      setTimeout(function () { item.remove(); }, 10000);
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".toast-close");
    if (button) button.closest(".toast").remove();
  });

  // A form marked data-once cannot be sent twice by a double click.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-once")) return;
    if (form.dataset.sent === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
    form.querySelectorAll("button[type=submit]").forEach(function (b) {
      b.setAttribute("aria-disabled", "true");
      b.classList.add("is-busy");
    });
  });

  document.body.addEventListener("operation-finished", function (event) {
    var detail = event.detail || {};
    toast(detail.message || "An operation finished.", detail.level || "success");
  });

  var lastErrorAt = 0;
  function connectionProblem(message) {
    var now = Date.now();
    if (now - lastErrorAt < 15000) return; // one toast per burst, not one per poll
    lastErrorAt = now;
    toast(message, "error");
  }
  document.body.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    connectionProblem(text_("error", "The dashboard answered with an error.") + " (HTTP " + status + ")");
  });
  document.body.addEventListener("htmx:sendError", function () {
    connectionProblem(text_("offline", "The dashboard cannot be reached."));
  });
  document.body.addEventListener("htmx:timeout", function () {
    connectionProblem(text_("slow", "The dashboard is slow to answer."));
  });
})();
