// The diff page works without this script: views switched by their #anchors (CSS :target),
// "changes only" by its checkbox (CSS :has), every change an anchor with next/previous
// links. With it: keys n and p step through the changes in sight, and the address keeps
// the change, so a link shows it again.
(function () {
  "use strict";
  var only = document.getElementById("changes-only");
  function visibleChanges() {
    return Array.prototype.slice.call(document.querySelectorAll(".diff-views [data-change][id]"))
      .filter(function (el) { return el.getClientRects().length > 0; });
  }
  if (only && location.hash.indexOf("#only-") === 0) only.checked = true;
  document.addEventListener("click", function (event) {
    // "in context" leads from an excerpt back into the whole text
    if (only && event.target.closest && event.target.closest("a.in-context")) only.checked = false;
  });
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName) && event.target !== only) return;
    if (event.key !== "n" && event.key !== "p") return;
    var changes = visibleChanges();
    if (!changes.length) return;
    var at = changes.findIndex(function (el) { return "#" + el.id === location.hash; });
    if (at < 0) at = event.key === "n" ? -1 : changes.length;
    var next = event.key === "n" ? Math.min(at + 1, changes.length - 1) : Math.max(at - 1, 0);
    location.hash = changes[next].id;
    event.preventDefault();
  });
})();
