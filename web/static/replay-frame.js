/* Runs inside an archived page, which the archive serves sandboxed in an opaque origin: the
   page may not navigate the window around it. When a reader follows one of its links, this
   asks the capture view around it (web/static/capture.js) to open that link's capture view,
   so the banner always describes the page shown. Without it, links load in the frame. */
(function () {
  "use strict";
  if (window.parent === window) return;
  var PAGE = /^\/web\/(\d{14})mp_\/(https?:\/\/.*)$/;

  function capturePath(href) {
    var url;
    try { url = new URL(href, document.baseURI); } catch (error) { return null; }
    if (url.host !== location.host) return null;
    var match = PAGE.exec(url.pathname + url.search);
    return match ? "/web/" + match[1] + "/" + match[2] : null;
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey ||
        event.shiftKey || event.altKey || !event.target.closest) return;
    var link = event.target.closest("a[href], area[href]");
    if (!link) return;
    var target = (link.getAttribute("target") || "_self").toLowerCase();
    if (["_self", "_top", "_parent"].indexOf(target) < 0) return;
    var path = capturePath(link.href);
    if (!path) return;
    event.preventDefault();
    window.parent.postMessage({palimpsest: "open", path: path}, "*");
  });

  // where this frame is now (after a redirect or the page's own navigation)
  window.parent.postMessage({palimpsest: "at", path: capturePath(location.href)}, "*");
})();
