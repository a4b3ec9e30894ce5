/* The change report's filters, at once: on a report shown whole, choosing a site, a kind of
   change or a size hides the other rows without a round trip, and the address says what is
   shown (so that it can be shared, and reloads to the same list from the server). On a report
   the server already narrowed, the rows left out are not on the page: a choice is sent. */
(function () {
  "use strict";
  var form = document.querySelector("form.report-controls");
  if (!form) return;
  var whole = form.dataset.filtered !== "1";
  var live = document.getElementById("shown-rows");
  var filters = form.querySelectorAll("[name=site], [name=kind], [name=min_ratio]");

  function chosen() {
    var kinds = [];
    form.querySelectorAll("[name=kind]:checked").forEach(function (box) {
      kinds.push(box.value);
    });
    return {site: form.elements.site.value, kinds: kinds,
            minRatio: parseFloat(form.elements.min_ratio.value || "0")};
  }

  function apply() {
    var want = chosen();
    var shown = 0;
    document.querySelectorAll("section.site-changes").forEach(function (section) {
      var left = 0;
      section.querySelectorAll("ul.changes > li[data-kind]").forEach(function (row) {
        var keep = (!want.site || section.dataset.site === want.site) &&
          want.kinds.indexOf(row.dataset.kind) >= 0 &&
          (row.dataset.kind !== "changed" || parseFloat(row.dataset.ratio) >= want.minRatio);
        row.hidden = !keep;
        if (keep) left += 1;
      });
      var wanted = want.site ? section.dataset.site === want.site : left > 0;
      section.hidden = !wanted;
      var link = document.querySelector("nav.site-jump a[href='#site-" + section.dataset.site + "']");
      if (link) {
        link.parentElement.hidden = !wanted;
        link.querySelector(".count").textContent = left;
      }
      shown += left;
    });
    if (live) live.textContent = "Showing " + shown + " row" + (shown === 1 ? "" : "s") + ".";
    var query = new URLSearchParams(new FormData(form));
    if (want.kinds.length === form.querySelectorAll("[name=kind]").length) query.delete("kind");
    ["site", "min_ratio"].forEach(function (name) {
      if (!query.get(name)) query.delete(name);
    });
    history.replaceState(null, "", "?" + query.toString());
  }

  filters.forEach(function (control) {
    control.addEventListener("change", function () {
      if (whole) apply(); else form.submit();
    });
  });
})();
