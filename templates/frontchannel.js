// Moves on from the front-channel logout page once every application's page has loaded in its
// frame (OpenID Connect Front-Channel Logout), or after three seconds if one does not; the
// page's Refresh header moves on without scripts.
(function () {
  var frames = document.querySelectorAll("iframe.frontchannel");
  var waiting = frames.length;
  var next = document.getElementById("continue").href;
  var go = function () { window.location.replace(next); };
  var loaded = function () { waiting -= 1; if (waiting === 0) { go(); } };
  frames.forEach(function (frame) { frame.addEventListener("load", loaded); });
  window.setTimeout(go, 3000);
})();
