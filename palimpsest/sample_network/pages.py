"""The HTML pages of the sample network, one function per kind of page.

Each returns a complete document (see render.document). Articles follow the seeds' shape:
title, byline with a publication date, lede, table of contents, key takeaways, several
sections of several paragraphs and a conclusion.
"""

from __future__ import annotations

import random
import re
from calendar import monthrange
from datetime import date

from palimpsest.sample_network.prose import markup, plain, supporting_paragraphs
from palimpsest.sample_network.render import (
    BANNER,
    Frame,
    document,
    e,
    hero_img,
    long_date,
    month_name,
)
from palimpsest.sample_network.sites import TRAP_PATH, Article, Page, Section

# The embedded-content test page's hostile scripts; their markers are what UI security
# tests look for: a "PWNED" title or element in the framing page, a "stolen" cookie or
# localStorage key, or a top window sent to /labs/escaped/.
EMBED_TEST_JS = """/* Embedded-content test: a widget that tries to escape its frame. */
(function () {
  function attempt(fn) { try { fn(); } catch (error) { /* blocked, as it should be */ } }
  attempt(function () { window.parent.document.title = "PWNED"; });
  attempt(function () {
    window.top.document.body.insertAdjacentHTML("afterbegin", "<p id='pwned-marker'>PWNED</p>");
  });
  attempt(function () { document.cookie = "stolen=1; path=/"; });
  attempt(function () { window.localStorage.setItem("stolen-linked", "1"); });
  setTimeout(function () {
    attempt(function () { top.location = "http://factsignal.test/labs/escaped/"; });
  }, 200);
})();
"""

_EMBED_TEST_INLINE = """
<script id="embed-test-inline">
(function () {
  var report = [];
  function attempt(name, fn) {
    try { fn(); report.push(name + ":done"); } catch (error) { report.push(name + ":blocked"); }
  }
  attempt("read-top", function () { report.push(String(window.top.location.href)); });
  attempt("parent-document", function () {
    window.parent.document.body.setAttribute("data-pwned", "1");
  });
  attempt("top-title", function () { window.top.document.title = "PWNED"; });
  attempt("cookie", function () { document.cookie = "stolen=1; path=/"; });
  attempt("read-cookie", function () { report.push(document.cookie); });
  attempt("local-storage", function () { window.localStorage.setItem("stolen", "1"); });
  document.documentElement.setAttribute("data-embed-test", report.join(" "));
})();
</script>
<script src="/assets/labs/embed-test.js"></script>"""


def _anchor(heading: str) -> str:
    return "h-" + re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def _paragraphs(texts: tuple[str, ...] | list[str]) -> str:
    return "\n".join(f"<p>{markup(t)}</p>" for t in texts)


def _breadcrumbs(trail: list[tuple[str, str]], here: str) -> str:
    crumbs = "".join(f'<li><a href="{e(href)}">{e(label)}</a></li>' for href, label in trail)
    return (
        '<nav class="c-breadcrumbs" aria-label="Breadcrumb"><ol>'
        f'{crumbs}<li aria-current="page">{e(here)}</li></ol></nav>'
    )


def _teaser(article: Article, *, image: bool) -> str:
    picture = f'<a href="{e(article.path)}">{hero_img(article, lazy=True)}</a>' if image else ""
    return f"""<article class="c-teaser">{picture}
<h3 class="c-teaser-title"><a href="{e(article.path)}">{e(article.title)}</a></h3>
<p class="c-teaser-meta">{e(article.author)} &middot;
<time datetime="{e(article.date)}">{e(long_date(article.date))}</time></p>
<p class="c-teaser-summary">{e(article.summary)}</p>
</article>"""


def article(frame: Frame, item: Article) -> str:
    """An article page."""
    section = frame.site.section(item.section)
    bank = frame.edition.common.sentences
    toc = ['<li><a href="#key-takeaways">Key Takeaways</a></li>']
    body = []
    for index, (heading, text) in enumerate(item.parts):
        anchor = _anchor(heading)
        toc.append(f'<li><a href="#{anchor}">{e(heading)}</a></li>')
        more = supporting_paragraphs(item, index, bank)
        body.append(
            f'<section id="{anchor}"><h2 class="c-section-heading">{e(heading)}</h2>\n'
            f"{_paragraphs([text, *more])}\n</section>"
        )
    toc.append('<li><a href="#conclusion">Conclusion</a></li>')
    takeaways = "".join(f"<li>{markup(t)}</li>" for t in item.takeaways)
    main = f"""<article class="c-article">
{_breadcrumbs([("/", "Home"), (section.path, section.label)], item.title)}
<header class="c-article-header">
<p class="c-tag-list"><a href="{e(section.path)}">{e(section.label)}</a></p>
<h1 class="c-page-title">{e(item.title)}</h1>
<p class="c-byline">By <span class="author">{e(item.author)}</span> &middot;
<time datetime="{e(item.date)}">{e(long_date(item.date))}</time> &middot;
<span data-reading-time></span></p>
</header>
<figure class="c-hero">{hero_img(item, lazy=False)}</figure>
<p class="c-lede">{markup(item.lede)}</p>
<nav class="c-toc" aria-labelledby="toc-title"><h2 id="toc-title">Table of Contents</h2>
<ol>{"".join(toc)}</ol></nav>
<section class="c-takeaways" id="key-takeaways"><h2>Key Takeaways</h2><ul>{takeaways}</ul></section>
<div class="c-article-body">
{chr(10).join(body)}
<section id="conclusion"><h2 class="c-section-heading">Conclusion</h2>
<p>{markup(item.conclusion)}</p></section>
</div>
<aside class="c-author-box"><h2>About the author</h2>
<p>{e(item.author)} is a contributor to {e(frame.site.title)}. More of our writing on this subject
appears in <a href="{e(section.path)}">{e(section.label)}</a>.</p></aside>
<p class="c-notice">Filed under <a href="{e(section.path)}">{e(section.label)}</a>.</p>
</article>"""
    return document(frame, path=item.path, title=item.title, description=plain(item.summary),
                    kind="article", main=main, section=section.slug, published=item.date,
                    author=item.author)


def section_index(frame: Frame, section: Section) -> str:
    """A section's index: its blurb and a teaser for each of its articles."""
    teasers = "\n".join(_teaser(a, image=True) for a in frame.site.in_section(section.slug))
    main = f"""{_breadcrumbs([("/", "Home")], section.label)}
<h1 class="c-page-title">{e(section.label)}</h1>
<p class="c-lede">{e(section.blurb)}</p>
<div class="c-section-block u-cols-2">
{teasers}
</div>"""
    return document(frame, path=section.path, title=section.label, description=section.blurb,
                    kind="section", main=main, section=section.slug)


def home(frame: Frame) -> str:
    """The home page: latest articles, every section's headlines, the sister sites."""
    site = frame.site
    latest = sorted(site.articles, key=lambda a: (a.date, a.slug), reverse=True)[:4]
    blocks = []
    for section in site.sections:
        items = "".join(
            f'<li><a href="{e(a.path)}">{e(a.title)}</a></li>'
            for a in site.in_section(section.slug)
        )
        blocks.append(
            f'<section class="c-section-block"><h2><a href="{e(section.path)}">'
            f"{e(section.label)}</a></h2><p>{e(section.blurb)}</p><ul>{items}</ul></section>"
        )
    more = "".join(
        f'<li><a href="{e(p.path)}">{e(p.label)}</a></li>' for p in site.pages if p.footer
    )
    sisters = "".join(
        f'<li><a href="{e(s.url)}">{e(s.title)}</a>: {e(s.tagline)}</li>'
        for s in frame.edition.sites if s.name != site.name
    )
    width, height = BANNER
    main = f"""<section class="c-hero">
<img src="/media/home-banner.png" width="{width}" height="{height}" alt="">
<h1 class="c-page-title">{e(site.title)}</h1>
<p class="c-lede">{e(site.description)}</p></section>
<section class="c-section-block"><h2>Latest</h2>
<div class="u-cols-2">
{chr(10).join(_teaser(a, image=False) for a in latest)}
</div></section>
{chr(10).join(blocks)}
<section class="c-section-block"><h2>Also on {e(site.title)}</h2>
<ul>{more}<li><a href="/about/">About us</a></li></ul></section>
<section class="c-section-block"><h2>From our network</h2><ul>{sisters}</ul></section>"""
    return document(frame, path="/", title=site.title, description=site.description,
                    kind="home", main=main)


def _simple(frame: Frame, path: str, title: str, description: str, inner: str,
            kind: str = "page", body_end: str = "") -> str:
    main = f"""{_breadcrumbs([("/", "Home")], title)}
<h1 class="c-page-title">{e(title)}</h1>
<div class="c-article-body">
{inner}
</div>"""
    return document(frame, path=path, title=title, description=description, kind=kind,
                    main=main, body_end=body_end)


def about(frame: Frame) -> str:
    """About / mission page."""
    site = frame.site
    sisters = ", ".join(s.title for s in frame.edition.sites if s.name != site.name)
    inner = _paragraphs(site.mission) + (
        f"\n<h2>Our network</h2>\n<p>{e(site.title)} shares its publishing platform and its "
        f"navigation with {e(sisters)}. Each site keeps its own editors and its own focus.</p>"
    )
    return _simple(frame, "/about/", f"About {site.title}", site.description, inner)


def contact(frame: Frame) -> str:
    """Contact page with an address, an e-mail link and a form (which posts nowhere real)."""
    site = frame.site
    texts = [t.replace("{site}", site.title) for t in frame.edition.common.contact]
    email = f"editors@{site.host}"
    inner = f"""{_paragraphs(texts)}
<h2>Write to us</h2>
<p><a href="mailto:{e(email)}">{e(email)}</a> &middot;
<a href="tel:+12025550143">+1 202 555 0143</a></p>
<address>{e(site.title)}<br>{e(site.address)}</address>
<form class="c-contact-form" method="post" action="/contact/">
<p class="c-form-field"><label for="name">Name</label>
<input id="name" name="name" type="text" autocomplete="name"></p>
<p class="c-form-field"><label for="email">E-mail</label>
<input id="email" name="email" type="email" autocomplete="email"></p>
<p class="c-form-field"><label for="message">Message</label>
<textarea id="message" name="message" rows="6"></textarea></p>
<p><button class="c-button" type="submit">Send</button></p>
</form>"""
    return _simple(frame, "/contact/", "Contact", f"How to reach {site.title}.", inner)


def legal(frame: Frame, which: str) -> str:
    """The privacy notice ("privacy") or the terms of use ("terms")."""
    common, site = frame.edition.common, frame.site
    texts = common.privacy if which == "privacy" else common.terms
    title = "Privacy Notice" if which == "privacy" else "Terms of Use"
    inner = _paragraphs([t.replace("{site}", site.title) for t in texts])
    return _simple(frame, f"/{which}/", title, f"{title} of {site.title}.", inner)


def page(frame: Frame, item: Page) -> str:
    """A standalone page; the noise page adds its dated line, the hostile page its scripts."""
    inner = _paragraphs(item.text)
    body_end = ""
    if item.kind == "noise":
        updated = frame.edition.updated
        inner += (
            f'\n<p class="c-status-line">Last updated: <time datetime="{e(updated)}">'
            f"{e(long_date(updated))}</time></p>"
        )
    elif item.kind == "hostile":
        body_end = _EMBED_TEST_INLINE
    return _simple(frame, item.path, item.title, item.description, inner, item.kind, body_end)


def _month_link(year: int, month: int, rel: str) -> str:
    if not 1 <= year <= 9999:
        return ""
    label = f"{month_name(month)} {year}"
    return f'<a rel="{rel}" href="{TRAP_PATH}?month={year:04d}-{month:02d}">{e(label)}</a>'


def calendar(frame: Frame, year: int, month: int) -> str:
    """One month of the endless events calendar, linking to the months before and after."""
    first = date(year, month, 1)
    days = monthrange(year, month)[1]
    rng = random.Random(f"calendar-{year:04d}-{month:02d}")
    kinds = ("Briefing", "Book talk", "Online panel", "Roundtable", "Workshop")
    events = {day: rng.choice(kinds) for day in rng.sample(range(1, days + 1), 3)}
    cells = [""] * first.weekday() + [
        f'<td class="c-calendar-day"><span>{d}</span>'
        + (f"<em>{e(events[d])}</em>" if d in events else "") + "</td>"
        for d in range(1, days + 1)
    ]
    cells += [""] * (-len(cells) % 7)
    rows = "".join(
        "<tr>" + "".join(c or "<td></td>" for c in cells[i : i + 7]) + "</tr>"
        for i in range(0, len(cells), 7)
    )
    prev_y, prev_m = (year - 1, 12) if month == 1 else (year, month - 1)
    next_y, next_m = (year + 1, 1) if month == 12 else (year, month + 1)
    title = f"Events calendar: {month_name(month)} {year}"
    head = "".join(f"<th>{d}</th>" for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
    pager = f'{_month_link(prev_y, prev_m, "prev")} {_month_link(next_y, next_m, "next")}'
    inner = f"""<nav class="c-pager">{pager}</nav>
<table class="c-calendar"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>
<p>Back to <a href="/events/">all events</a>.</p>"""
    path = f"{TRAP_PATH}?month={year:04d}-{month:02d}"
    return _simple(frame, path, title, f"Paxpoint events in {month_name(month)} {year}.", inner,
                   "calendar")


def not_found(frame: Frame) -> str:
    """The site's 404 page."""
    main = """<h1 class="c-page-title">Page not found</h1>
<p>The page you asked for does not exist, or it has been moved or withdrawn.</p>
<p>Try the <a href="/">home page</a> or one of the sections listed above.</p>"""
    return document(frame, path=None, title="Page not found",
                    description="The requested page could not be found.", kind="error", main=main)
