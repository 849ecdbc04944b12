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
  function finishPopup() {
    var done = document.querySelector("[data-authorization-result]");
    if (!done || !window.opener) { return; }
    window.opener.postMessage({ type: "app-authorized", ok: done.getAttribute("data-authorization-result") === "ok",
                                text: done.textContent.trim() }, window.location.origin);
    window.setTimeout(function () { window.close(); }, 300);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", finishPopup); } else { finishPopup(); }
})();
