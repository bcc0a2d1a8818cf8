// idbridge session tracker. A product embeds this script and calls
//   oasm.start({ issuer: "https://id.example.com", clientId: "shop", sessionId: idToken.sid,
//                onExpired: () => ..., interval: 30000 })
// It polls the idbridge session status and calls onExpired once when the session has ended
// (signed out elsewhere, or expired). It never sees or exposes a token.
// sessionId is the `sid` claim of the product's ID token: with it the status is asked without
// cookies, which is what works for a product on another site than idbridge (browsers do not send
// idbridge's SameSite=Lax cookie there, and may block third-party cookies). Without it the status
// is asked with the browser's cookies, which works only for products on idbridge's own site.
(function (global) {
  "use strict";
  function start(options) {
    var issuer = String(options.issuer || "").replace(/\/+$/, "");
    var interval = Math.max(Number(options.interval) || 30000, 5000);
    var onExpired = typeof options.onExpired === "function" ? options.onExpired : function () {};
    var url = issuer + "/sso/v2/session";
    var credentials = "include";
    if (options.sessionId) {
      url += "?sid=" + encodeURIComponent(String(options.sessionId));
      credentials = "omit";
    }
    var fired = false;
    var timer = null;
    function check() {
      fetch(url, { credentials: credentials, cache: "no-store" })
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
