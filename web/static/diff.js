// The diff page works without this script: views switched by their #anchors (CSS :target),
// "changes only" by its checkbox (CSS :has), every change an anchor with next/previous
// links. With it: keys n and p (and the bar's arrows) step through the changes in sight,
// "First change" and "Last change" stay in the view in sight, the address keeps the change,
// so a link shows it again, and the sticky bar's real height keeps what is jumped to, and
// the side by side headers, out from under it.
(function () {
  "use strict";
  var only = document.getElementById("changes-only");
  var controls = document.getElementById("diff-controls");
  var views = document.querySelector(".diff-views");
  var head = document.querySelector("#side-by-side thead");
  var steps = document.querySelector(".diff-controls .steps");
  if (!controls || !views) return;

  function shown(el) { return el.getClientRects().length > 0; }
  function visibleChanges() {
    return Array.prototype.slice.call(views.querySelectorAll("[data-change][id]")).filter(shown);
  }
  function go(el) {
    if ("#" + el.id === location.hash) el.scrollIntoView();
    else location.hash = el.id;
  }
  function step(forward) {
    var changes = visibleChanges();
    if (!changes.length) return;
    var at = changes.findIndex(function (el) { return "#" + el.id === location.hash; });
    if (at < 0) at = forward ? -1 : changes.length;
    go(changes[forward ? Math.min(at + 1, changes.length - 1) : Math.max(at - 1, 0)]);
  }

  // what the sticky bar (and, side by side, the sticky headers) cover, for the CSS's
  // scroll margins and the headers' offset
  function measure() {
    views.style.setProperty("--controls-h", controls.getBoundingClientRect().height + "px");
    if (head && shown(head)) {
      views.style.setProperty("--side-head-h", head.getBoundingClientRect().height + "px");
    }
  }
  measure();
  if (window.ResizeObserver) {
    var observer = new ResizeObserver(measure);
    observer.observe(controls);
    if (head) observer.observe(head);
  }

  // a change named in the address but not in sight (side by side on a phone, which shows
  // the inline view instead): the same change in the view in sight
  function settle() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && target.hasAttribute("data-change") && !shown(target)) {
      var same = visibleChanges().filter(function (el) {
        return el.getAttribute("data-change") === target.getAttribute("data-change");
      })[0];
      // (a navigation, unlike history.replaceState, moves :target, and so the outline)
      if (same) return location.replace("#" + same.id);
    }
    // (on load, the browser scrolled to the change before the margins were measured)
    if (target && shown(target)) target.scrollIntoView();
  }
  settle();
  window.addEventListener("hashchange", settle);

  if (steps) steps.hidden = false;
  if (only && location.hash.indexOf("#only-") === 0) only.checked = true;
  document.addEventListener("click", function (event) {
    var el = event.target.closest ? event.target.closest("a, button") : null;
    if (!el) return;
    // "in context" leads from an excerpt back into the whole text
    if (only && el.matches("a.in-context")) only.checked = false;
    var jump = el.getAttribute("data-jump");
    var changes = jump && visibleChanges();
    if (changes && changes.length) {
      go(changes[jump === "first" ? 0 : changes.length - 1]);
      event.preventDefault();
    }
    if (el.hasAttribute("data-step")) step(el.getAttribute("data-step") === "n");
  });
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName) && event.target !== only) return;
    if (event.key !== "n" && event.key !== "p") return;
    step(event.key === "n");
    event.preventDefault();
  });
})();

/* ---- screenshots (issue 13): each screenshot of the visual comparison scrolled, in its
   box, to the first row of pixels that differs, so that the change is in sight at once ---- */
(function () {
  "use strict";
  var visual = document.querySelector("#visual[data-top]");
  if (!visual) return;
  var top = parseFloat(visual.dataset.top), width = parseFloat(visual.dataset.width);
  visual.querySelectorAll("figure a img").forEach(function (img) {
    function scroll() {
      // every screenshot is shown at its box's width, the compared area's width scaled
      var y = top * img.clientWidth / width;
      img.parentNode.scrollTop = Math.max(0, y - 40);
    }
    if (img.complete) scroll(); else img.addEventListener("load", scroll);
  });
})();
/* ---- end of screenshots ---- */
