// Behaviour that the pages share. No inline scripts: the Content Security Policy forbids them.
(function () {
  "use strict";

  // Translated sentences come from data-msg-* attributes that the page renders on <body>.
  function text_(key, fallback) {
    return document.body.dataset["msg" + key.charAt(0).toUpperCase() + key.slice(1)] || fallback;
  }

  // Toasts: role="status" (errors role="alert") in the #toasts live region, which sits in
  // the page's flow under the top bar. A toast that is not an error goes after
  // TOAST_SECONDS, but never while the pointer is on it or the keyboard focus is in it.
  var TOAST_SECONDS = 10;

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
    if (level !== "error") expireLater(item);
  }

  function expireLater(item) {
    setTimeout(function () {
      if (!item.isConnected) return;
      if (item.matches(":hover, :focus-within")) expireLater(item);
      else dismiss(item);
    }, TOAST_SECONDS * 1000);
  }

  // Keyboard focus that was in a dismissed toast goes to the next toast's button, else the
  // previous one's, else the page's content: never lost to <body>.
  function dismiss(item) {
    var hadFocus = item.contains(document.activeElement);
    var next = item.nextElementSibling || item.previousElementSibling;
    item.remove();
    if (!hadFocus) return;
    var target = next ? next.querySelector(".toast-close") : document.getElementById("main");
    if (target) target.focus();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".toast-close");
    if (button) dismiss(button.closest(".toast"));
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var item = event.target.closest && event.target.closest(".toast");
    if (item) dismiss(item);
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
