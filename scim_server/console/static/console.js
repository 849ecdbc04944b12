// scim-bridge console: the few behaviours plain HTML lacks. No inline scripts anywhere (CSP).
(function () {
  "use strict";
  // "Grant access": open the vendor's App Authorization page in a pop-up; the pop-up's
  // landing page (console callback) tells this window the result and closes itself.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-popup]");
    if (!link) { return; }
    var popup = window.open(link.href, "app-authorization", "popup,width=560,height=720");
    if (popup) { event.preventDefault(); }
  });
  window.addEventListener("message", function (event) {
    if (event.origin !== window.location.origin || !event.data || event.data.type !== "app-authorized") { return; }
    var box = document.getElementById("grant-status");
    if (box) {
      box.textContent = event.data.ok ? "Access granted." : "Access was not granted: " + event.data.text;
      box.className = "message " + (event.data.ok ? "success" : "error");
    }
    var next = document.getElementById("grant-next");
    if (next && event.data.ok) { next.removeAttribute("hidden"); next.focus(); }
  });
  // Dialogs: a link with hx-target="#dialog-host" loads a <dialog data-dialog> fragment there;
  // it opens as a native modal (focus moves in, Escape closes), Cancel closes it, and focus goes
  // back to the link that opened it. Without JavaScript the same link opens the dialog as a page.
  var opener = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id === "dialog-host" && !target.contains(event.detail.elt)) { opener = event.detail.elt; }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var host = event.detail.target;
    if (!host || host.id !== "dialog-host") { return; }
    var dialog = host.querySelector("dialog[data-dialog]");
    if (!dialog) { return; }
    document.querySelectorAll("details.menu[open]").forEach(function (menu) { menu.removeAttribute("open"); });
    dialog.addEventListener("close", function () {
      if (dialog.parentNode === host) { host.textContent = ""; }
      if (!opener || !document.body.contains(opener)) { return; }
      var menu = opener.closest("details");  // a row menu closed when the dialog opened: its summary
      (menu && !menu.open ? menu.querySelector("summary") : opener).focus();
    });
    if (!dialog.open) { dialog.showModal(); }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-close-dialog]");
    var dialog = button && button.closest("dialog");
    if (dialog) { dialog.close(); }
  });
  function finishPopup() {
    var done = document.querySelector("[data-authorization-result]");
    if (!done || !window.opener) { return; }
    window.opener.postMessage({ type: "app-authorized", ok: done.getAttribute("data-authorization-result") === "ok",
                                text: done.textContent.trim() }, window.location.origin);
    window.setTimeout(function () { window.close(); }, 300);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", finishPopup); } else { finishPopup(); }
})();
