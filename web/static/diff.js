// Progressive enhancement for the diff page: "changes only", and n / p to jump between changes.
(function () {
  var box = document.getElementById("changes-only");
  if (box) box.addEventListener("change", function () {
    document.body.classList.toggle("changes-only", box.checked);
  });
  var changes = Array.prototype.slice.call(document.querySelectorAll("#inline [id^=change-]"));
  var at = -1;
  document.addEventListener("keydown", function (event) {
    if (event.target.tagName === "INPUT" || !changes.length) return;
    if (event.key === "n") at = Math.min(at + 1, changes.length - 1);
    else if (event.key === "p") at = Math.max(at - 1, 0);
    else return;
    changes[at].scrollIntoView({block: "center"});
    changes[at].focus && changes[at].setAttribute("tabindex", "-1");
    changes[at].focus();
  });
})();
