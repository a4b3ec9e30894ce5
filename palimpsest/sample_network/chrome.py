"""The CMS furniture around each page: theme CSS, scripts and structured data.

Real CMS pages carry tens of kilobytes of inline styles, configuration and scripts around a
few kilobytes of text; these functions produce the same weight, deterministically, so that
figures that depend on size (dedup savings, throughput) mean something. Nothing here reads the
clock or an unseeded random source.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

from palimpsest.sample_network.sites import Site

# Components the theme styles, in the order a compiled stylesheet would list them.
_COMPONENTS = (
    "skip-link", "network-bar", "site-header", "brand", "brand-logo", "brand-name",
    "brand-tagline", "main-nav", "nav-item", "nav-link", "breadcrumbs", "page-title",
    "byline", "hero", "lede", "toc", "takeaways", "article-body", "section-heading",
    "teaser", "teaser-title", "teaser-meta", "teaser-summary", "section-block", "callout",
    "author-box", "tag-list", "button", "contact-form", "form-field", "calendar",
    "calendar-day", "pager", "site-footer", "footer-column", "footer-heading", "footer-link",
    "network-list", "disclosure", "copyright", "notice", "status-line",
)
_BREAKPOINTS = (480, 640, 768, 1024, 1280)


def _mix(colour: str, other: str, amount: float) -> str:
    a = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * amount):02x}" for x, y in zip(a, b, strict=True))


def _palette(accent: str) -> str:
    steps = (0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9)
    tints = [f"--accent-{int(s * 100)}:{_mix(accent, '#ffffff', s)}" for s in steps]
    shades = [f"--accent-dark-{int(s * 100)}:{_mix(accent, '#000000', s)}" for s in steps]
    inks = [f"--ink-{i}:{_mix('#1b1f24', '#ffffff', i * 0.12)}" for i in range(6)]
    surfaces = [f"--surface-{i}:{_mix('#ffffff', accent, i * 0.03)}" for i in range(6)]
    return ":root{--accent:" + accent + ";" + ";".join(tints + shades + inks + surfaces) + "}"


@lru_cache(maxsize=16)
def theme_css(accent: str) -> str:
    """The inline <style> block of every page of a site whose colour is `accent`."""
    rules = [_palette(accent)]
    for i, name in enumerate(_COMPONENTS):
        margin = (i % 4) * 0.5
        pad_y, pad_x = 0.25 + (i % 3) * 0.25, 0.5 + (i % 5) * 0.25
        size = 0.85 + (i % 6) * 0.075
        rules.append(
            f".c-{name}{{margin:0 0 {margin}rem;"
            f"padding:{pad_y}rem {pad_x}rem;font-size:{size:.3f}rem;"
            f"line-height:{1.3 + (i % 4) * 0.1:.1f};color:var(--ink-{i % 4});"
            f"background:var(--surface-{i % 6});border-radius:{(i % 4) * 2}px;"
            f"transition:color .2s ease,background-color .2s ease}}"
        )
        rules.append(
            f".c-{name}:hover,.c-{name}:focus-within{{color:var(--accent);"
            f"background:var(--accent-{(10, 20, 35)[i % 3]})}}"
        )
        width = _BREAKPOINTS[i % len(_BREAKPOINTS)]
        rules.append(
            f"@media (min-width:{width}px){{.c-{name}{{padding:{pad_y * 1.5:.3f}rem "
            f"{pad_x * 1.5:.3f}rem;font-size:{size * 1.06:.3f}rem}}}}"
        )
    return "\n".join(rules)


def site_css(site: Site) -> str:
    """/assets/site.css: fonts, layout and utilities. Refers to the web font and the
    background texture by url(), so both are requisites of every page."""
    head = f"""/* {site.title} theme, built by the CMS asset pipeline */
@font-face{{font-family:"Body Sans";src:url(/assets/fonts/body.woff2) format("woff2");
font-weight:400 700;font-display:swap}}
html{{font-family:"Body Sans",system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1f24}}
body{{margin:0;background:#fbfbfa url(/assets/img/texture.png) repeat top left}}
a{{color:{site.accent}}}a:hover{{color:{_mix(site.accent, "#000000", 0.35)}}}
.c-site-header{{border-bottom:4px solid {site.accent}}}
.disclosure{{font-size:.8rem;color:#4a4f55;border-top:1px solid #d9dbde;padding-top:.75rem}}
img{{max-width:100%;height:auto}}
.c-network-bar,.c-site-header,.c-main,.c-site-footer{{max-width:72rem;margin:0 auto;
box-sizing:border-box}}
.c-network-bar{{display:flex;gap:.75rem;align-items:center;font-size:.8rem}}
.c-network-list,.c-main-nav ul,.c-breadcrumbs ol,.c-site-footer ul{{list-style:none;margin:0;
padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}}
.c-site-footer ul{{flex-direction:column}}
.c-site-header{{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:1rem}}
.c-brand{{display:flex;align-items:center;gap:1rem}}
.c-brand-name{{font-size:1.6rem;font-weight:700;margin:0}}.c-brand-tagline{{margin:0}}
[data-menu-toggle]{{display:none}}
.c-article,.c-article-body{{max-width:46rem}}
.c-footer-columns{{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));gap:1.5rem}}
.c-skip-link{{position:absolute;left:-999px}}.c-skip-link:focus{{left:1rem}}
.c-calendar{{border-collapse:collapse;width:100%}}
.c-calendar td{{border:1px solid #d9dbde;height:3rem;vertical-align:top}}
"""
    utilities = []
    for step in range(12):
        size = step * 0.25
        for prop, short in (("margin", "m"), ("padding", "p")):
            for side, suffix in (("top", "t"), ("bottom", "b"), ("left", "l"), ("right", "r")):
                utilities.append(f".u-{short}{suffix}-{step}{{{prop}-{side}:{size}rem}}")
    for i, width in enumerate(_BREAKPOINTS):
        utilities.append(
            f"@media (min-width:{width}px){{.u-cols-{i + 1}{{display:grid;"
            f"grid-template-columns:repeat({i + 1},minmax(0,1fr));gap:1.5rem}}}}"
        )
    return head + "\n".join(utilities) + "\n"


SITE_JS = """/* Lanternpress front-end bundle: navigation, table of contents, lazy images. */
(function () {
  "use strict";
  var doc = document;
  function ready(fn) {
    if (doc.readyState !== "loading") { fn(); return; }
    doc.addEventListener("DOMContentLoaded", fn);
  }
  function toggleMenu(button) {
    var target = doc.getElementById(button.getAttribute("aria-controls"));
    if (!target) { return; }
    var open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", open ? "false" : "true");
    target.classList.toggle("is-open", !open);
  }
  function watchToc() {
    var links = doc.querySelectorAll(".c-toc a[href^='#']");
    if (!("IntersectionObserver" in window) || links.length === 0) { return; }
    var byId = {};
    links.forEach(function (link) { byId[link.getAttribute("href").slice(1)] = link; });
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        var link = byId[entry.target.id];
        if (link) { link.classList.toggle("is-current", entry.isIntersecting); }
      });
    }, { rootMargin: "0px 0px -70% 0px" });
    Object.keys(byId).forEach(function (id) {
      var heading = doc.getElementById(id);
      if (heading) { observer.observe(heading); }
    });
  }
  function lazyImages() {
    doc.querySelectorAll("img[loading='lazy']").forEach(function (img) {
      img.addEventListener("load", function () { img.classList.add("is-loaded"); });
    });
  }
  function readingTime() {
    var body = doc.querySelector(".c-article-body");
    var slot = doc.querySelector("[data-reading-time]");
    if (!body || !slot) { return; }
    var words = body.textContent.trim().split(/\\s+/).length;
    slot.textContent = Math.max(1, Math.round(words / 220)) + " min read";
  }
  ready(function () {
    doc.querySelectorAll("[data-menu-toggle]").forEach(function (button) {
      button.addEventListener("click", function () { toggleMenu(button); });
    });
    watchToc();
    lazyImages();
    readingTime();
  });
})();
"""


def page_config(site: Site, url: str, kind: str, section: str) -> str:
    """The CMS's inline configuration object for one page (analytics queue, features)."""
    page_id = hashlib.sha1(url.encode()).hexdigest()[:12]
    config = {
        "site": {"id": f"lp-{site.name}", "name": site.title, "locale": "en-US"},
        "page": {"id": page_id, "type": kind, "section": section, "url": url},
        "analytics": {
            "queue": "lpq",
            "sampleRate": 0.25,
            "dimensions": ["section", "author", "pageType", "readingDepth"],
            "events": ["scroll_25", "scroll_50", "scroll_75", "scroll_100", "toc_click"],
        },
        "features": {
            "stickyHeader": True,
            "readingProgress": kind == "article",
            "tocHighlight": kind == "article",
            "printStyles": True,
            "darkMode": False,
        },
        "consent": {
            "categories": ["necessary", "preferences", "statistics"],
            "defaults": {"necessary": True, "preferences": False, "statistics": False},
        },
        "experiments": [
            {"id": f"exp-{i}", "variant": "control", "weight": w}
            for i, w in enumerate((50, 30, 20))
        ],
    }
    return "window.lanternpress = " + json_ld(config) + ";"


BOOTSTRAP_JS = """(function (w, d) {
  "use strict";
  /* Analytics queue: events wait here until the reader accepts statistics. */
  w.lpq = w.lpq || [];
  function track(name, data) { w.lpq.push({ name: name, data: data || {} }); }
  w.lpTrack = track;
  var marks = [25, 50, 75, 100], fired = {};
  function onScroll() {
    var max = d.documentElement.scrollHeight - w.innerHeight;
    if (max <= 0) { return; }
    var depth = Math.round((w.scrollY / max) * 100);
    marks.forEach(function (mark) {
      if (depth >= mark && !fired[mark]) { fired[mark] = true; track("scroll_" + mark); }
    });
  }
  w.addEventListener("scroll", onScroll, { passive: true });
  d.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(".c-toc a") : null;
    if (link) { track("toc_click", { target: link.getAttribute("href") }); }
  });
  /* Sticky header: add a class once the reader scrolls past the masthead. */
  var header = d.querySelector(".c-site-header");
  if (header) {
    w.addEventListener("scroll", function () {
      header.classList.toggle("is-stuck", w.scrollY > 120);
    }, { passive: true });
  }
  /* Progress bar for long articles. */
  var bar = d.querySelector("[data-progress]");
  if (bar) {
    w.addEventListener("scroll", function () {
      var max = d.documentElement.scrollHeight - w.innerHeight;
      bar.style.width = (max > 0 ? (w.scrollY / max) * 100 : 0) + "%";
    }, { passive: true });
  }
})(window, document);"""


def json_ld(data: dict[str, Any]) -> str:
    """`data` as JSON for a <script type="application/ld+json"> block, safe inside HTML."""
    text = json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False)
    # "</" would end the script element early; the JSON escape keeps the same value.
    return text.replace("</", "<\\/")
