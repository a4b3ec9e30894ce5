/* The capture view's side of web/static/replay-frame.js. The archived page is hostile and can
   post anything, so only a path of the form /web/<14 digits>/<http(s) URL> is taken, only
   from the frame's window, and it is only ever opened in this window on a reader's action:
   the archived page can show a reader another capture, never leave the archive. Nothing in a
   message is ever shown: the banner is the server's, of the capture view opened. The rendered
   view (dom_) runs no script, so any message from its frame is a forgery: none is taken. */
(function () {
  "use strict";
  var frame = document.getElementById("replay");
  var moved = document.getElementById("frame-moved");
  if (!frame || /^\/web\/\d{14}dom_\//.test(frame.getAttribute("src"))) return;
  var VIEW = /^\/web\/\d{14}\/https?:\/\/[^\s]+$/;
  function normal(path) {
    var url = new URL(path, window.location.href);
    return url.pathname + url.search;
  }
  var shown = normal(frame.getAttribute("src").replace(/^\/web\/(\d{14})mp_\//, "/web/$1/"));

  window.addEventListener("message", function (event) {
    var data = event.data;
    // the frame is sandboxed: whatever it shows, its origin is opaque ("null"); a message
    // from anywhere else (a window this one opened, another frame) is not the frame's
    if (event.source !== frame.contentWindow || event.origin !== "null" || !data ||
        typeof data !== "object" || typeof data.path !== "string" ||
        !VIEW.test(data.path)) return;
    if (data.palimpsest === "open") {
      // a link followed by the reader: without a recent click or key press it is the
      // page's own script talking, and it is ignored
      if (navigator.userActivation && !navigator.userActivation.isActive) return;
      window.location.assign(data.path);
    } else if (data.palimpsest === "at" && moved && normal(data.path) !== shown) {
      moved.querySelector("a").setAttribute("href", data.path);
      moved.hidden = false;
    }
  });
})();
