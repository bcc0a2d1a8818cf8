// idbridge session tracker. A product embeds this script and calls
//   oasm.start({ issuer: "https://id.example.com", clientId: "shop", onExpired: () => ..., interval: 30000 })
// It polls the idbridge session status with the browser's cookies and calls onExpired once when
// the session has ended (signed out elsewhere, or expired). It never sees or exposes a token.
(function (global) {
  "use strict";
  function start(options) {
    var issuer = String(options.issuer || "").replace(/\/+$/, "");
    var interval = Math.max(Number(options.interval) || 30000, 5000);
    var onExpired = typeof options.onExpired === "function" ? options.onExpired : function () {};
    var fired = false;
    var timer = null;
    function check() {
      fetch(issuer + "/sso/v2/session", { credentials: "include", cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (status) {
          if (status && status.active === false && !fired) {
            fired = true;
            clearInterval(timer);
            onExpired();
          }
        })
        .catch(function () { /* network trouble: try again at the next tick */ });
    }
    timer = setInterval(check, interval);
    check();
    return { stop: function () { clearInterval(timer); } };
  }
  global.oasm = { start: start };
})(window);
