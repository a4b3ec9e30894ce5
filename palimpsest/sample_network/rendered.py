"""The script-rendered sister site: HTML shells, the JSON their script fetches, the script.

Its pages share the network's frame (network bar, header, footer, theme) through
render.document, but an article page carries no article text: its script fetches
/api/articles/SLUG.json and writes title, byline, body and images into the page. The footer's
disclosure line is not in the HTML either: the script adds it from /api/site.json, which also
holds the home page's "Latest" list (the only links to the site's unlisted articles).

Images a plain crawler never sees in the HTML: per article, a photo the script adds
(/media/SLUG-photo.png), a chart inside the script-rendered body with loading=lazy
(/media/SLUG-chart.png) and a map below the fold that an IntersectionObserver loads from its
data-lazy-src (/media/SLUG-map.png).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from palimpsest.sample_network.prose import markup, plain, supporting_paragraphs
from palimpsest.sample_network.render import BANNER, HERO, Frame, document, e, long_date
from palimpsest.sample_network.revisions import Edition
from palimpsest.sample_network.sites import Article, Site, unlisted_slugs

SITE_API = "/api/site.json"
APP_JS_PATH = "/assets/app.js"
_APP_TAG = f'\n<script src="{APP_JS_PATH}" defer></script>'


def article_api(article: Article) -> str:
    """The path of the JSON an article's shell fetches."""
    return f"/api/articles/{article.slug}.json"


def photo(article: Article) -> str:
    """The image the article's script adds to the page."""
    return f"/media/{article.slug}-photo.png"


def chart(article: Article) -> str:
    """The loading=lazy image inside the script-rendered body."""
    return f"/media/{article.slug}-chart.png"


def map_image(article: Article) -> str:
    """The image below the fold that an IntersectionObserver loads."""
    return f"/media/{article.slug}-map.png"


def listed(site: Site) -> tuple[Article, ...]:
    """The articles section indexes and the sitemap list (all but the unlisted ones)."""
    hidden = unlisted_slugs(site.name)
    return tuple(a for a in site.articles if a.slug not in hidden)


def frame(ed: Edition, site: Site) -> Frame:
    """The frame of the site's pages: the network bar and footer list the five sisters and
    this site; the HTML footer never holds the disclosure line (the script adds it); the
    section indexes list only listed articles."""
    shell = replace(site, disclosure=False, articles=listed(site))
    return Frame(replace(ed, sites=(*ed.sites, shell)), shell)


def _dumps(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()


def home(fr: Frame) -> str:
    """The home page: banner, sections and sisters in HTML; "Latest" filled by script."""
    site = fr.site
    blocks = "".join(
        f'<section class="c-section-block"><h2><a href="{e(s.path)}">{e(s.label)}</a></h2>'
        f"<p>{e(s.blurb)}</p></section>"
        for s in site.sections
    )
    sisters = "".join(
        f'<li><a href="{e(s.url)}">{e(s.title)}</a>: {e(s.tagline)}</li>'
        for s in fr.edition.sites if s.name != site.name
    )
    width, height = BANNER
    main = f"""<section class="c-hero">
<img src="/media/home-banner.png" width="{width}" height="{height}" alt="">
<h1 class="c-page-title">{e(site.title)}</h1>
<p class="c-lede">{e(site.description)}</p></section>
<section class="c-section-block"><h2>Latest</h2>
<div class="u-cols-2" data-latest aria-busy="true"><p class="c-notice">Loading the latest
explainers&hellip;</p></div></section>
{blocks}
<section class="c-section-block"><h2>Also on {e(site.title)}</h2>
<ul><li><a href="/about/">About us</a></li><li><a href="/contact/">Contact</a></li></ul></section>
<section class="c-section-block"><h2>From our network</h2><ul>{sisters}</ul></section>"""
    return document(fr, path="/", title=site.title, description=site.description,
                    kind="home", main=main, body_end=_APP_TAG)


def article_shell(fr: Frame, item: Article) -> str:
    """An article's page as served: the frame and empty slots, no article text."""
    section = fr.site.section(item.section)
    width, height = BANNER
    main = f"""<article class="c-article" data-article="{e(article_api(item))}" aria-busy="true">
<nav class="c-breadcrumbs" aria-label="Breadcrumb"><ol><li><a href="/">Home</a></li>
<li><a href="{e(section.path)}">{e(section.label)}</a></li></ol></nav>
<header class="c-article-header">
<p class="c-tag-list"><a href="{e(section.path)}">{e(section.label)}</a></p>
<h1 class="c-page-title" data-slot="title"></h1>
<p class="c-byline" data-slot="byline"></p>
</header>
<figure class="c-hero" data-slot="photo"></figure>
<div class="c-article-body" data-slot="body"><p class="c-notice">Loading the article&hellip;</p>
</div>
<noscript><p class="c-notice">This explainer is displayed by JavaScript; please enable it
to read the article.</p></noscript>
<figure class="c-callout" data-lazy-src="{e(map_image(item))}" data-width="{width}"
 data-height="{height}" style="min-height:{height}px"><figcaption>Where this story takes
place.</figcaption></figure>
<p class="c-notice">Filed under <a href="{e(section.path)}">{e(section.label)}</a>.</p>
</article>"""
    return document(fr, path=item.path, title=item.title, description=plain(item.summary),
                    kind="article", main=main, section=section.slug, published=item.date,
                    author=item.author, body_end=_APP_TAG)


def article_json(fr: Frame, item: Article) -> bytes:
    """/api/articles/SLUG.json: everything the shell's script writes into the page, prose as
    HTML fragments (escaped, links made) as CMS APIs serve it."""
    section = fr.site.section(item.section)
    bank = fr.edition.common.sentences
    parts = []
    for index, (heading, text) in enumerate(item.parts):
        more = supporting_paragraphs(item, index, bank)
        parts.append({"heading": heading, "id": f"part-{index + 1}",
                      "paragraphs": [markup(t) for t in (text, *more)]})
    width, height = HERO
    return _dumps({
        "url": item.url,
        "title": item.title,
        "author": item.author,
        "date": item.date,
        "date_label": long_date(item.date),
        "section": {"slug": section.slug, "label": section.label, "path": section.path},
        "summary": item.summary,
        "lede": markup(item.lede),
        "takeaways": [markup(t) for t in item.takeaways],
        "parts": parts,
        "conclusion": markup(item.conclusion),
        "photo": {"src": photo(item), "width": width, "height": height, "alt": ""},
        "chart": {"src": chart(item), "width": width, "height": height,
                  "caption": f"{item.title}: the figures at a glance."},
    })


def site_json(fr: Frame, site: Site) -> bytes:
    """/api/site.json: the footer's disclosure line (null in revisions that drop it) and the
    "Latest" list, every published article newest first, unlisted ones included."""
    latest = sorted(site.articles, key=lambda a: (a.date, a.slug), reverse=True)
    return _dumps({
        "name": site.title,
        "disclosure": fr.edition.common.disclosure if site.disclosure else None,
        "latest": [{"url": a.path, "title": a.title, "summary": a.summary, "date": a.date,
                    "date_label": long_date(a.date), "author": a.author} for a in latest],
    })


APP_JS = """/* Civiscope reader: article bodies, Latest list and footer notice arrive as JSON. */
(function () {
  "use strict";
  var doc = document;
  function getJSON(url) {
    return fetch(url, { headers: { "Accept": "application/json" } }).then(function (answer) {
      if (!answer.ok) { throw new Error(url + " answered " + answer.status); }
      return answer.json();
    });
  }
  function slot(root, name) { return root.querySelector("[data-slot='" + name + "']"); }
  function text(tag, className, value) {
    var node = doc.createElement(tag);
    if (className) { node.className = className; }
    node.textContent = value;
    return node;
  }
  function renderArticle(root, data) {
    doc.title = data.title + " | " + doc.title.split(" | ").pop();
    slot(root, "title").textContent = data.title;
    var byline = slot(root, "byline");
    byline.appendChild(doc.createTextNode("By "));
    byline.appendChild(text("span", "author", data.author));
    byline.appendChild(doc.createTextNode(" \\u00b7 "));
    var time = text("time", "", data.date_label);
    time.setAttribute("datetime", data.date);
    byline.appendChild(time);
    var picture = new Image(data.photo.width, data.photo.height);
    picture.alt = data.photo.alt;
    picture.decoding = "async";
    picture.src = data.photo.src;
    slot(root, "photo").appendChild(picture);
    var html = ['<p class="c-lede">' + data.lede + "</p>",
      '<section class="c-takeaways" id="key-takeaways"><h2>Key Takeaways</h2><ul>' +
      data.takeaways.map(function (item) { return "<li>" + item + "</li>"; }).join("") +
      "</ul></section>"];
    data.parts.forEach(function (part) {
      html.push('<section id="' + part.id + '"><h2 class="c-section-heading"></h2>' +
        part.paragraphs.map(function (p) { return "<p>" + p + "</p>"; }).join("\\n") +
        "</section>");
    });
    html.push('<section id="conclusion"><h2 class="c-section-heading">Conclusion</h2><p>' +
      data.conclusion + "</p></section>");
    /* Far below the fold: the browser fetches it only as the reader scrolls near it. */
    html.push('<figure class="c-callout"><img src="' + data.chart.src + '" width="' +
      data.chart.width + '" height="' + data.chart.height +
      '" alt="" loading="lazy" decoding="async"><figcaption></figcaption></figure>');
    var body = slot(root, "body");
    body.innerHTML = html.join("\\n");
    body.querySelectorAll("section[id^='part-'] > h2").forEach(function (heading, index) {
      heading.textContent = data.parts[index].heading;
    });
    body.querySelector("figcaption").textContent = data.chart.caption;
    root.removeAttribute("aria-busy");
    root.setAttribute("data-rendered", "true");
  }
  function renderLatest(list, items) {
    list.textContent = "";
    items.forEach(function (item) {
      var teaser = doc.createElement("article");
      teaser.className = "c-teaser";
      var heading = doc.createElement("h3");
      heading.className = "c-teaser-title";
      var link = text("a", "", item.title);
      link.href = item.url;
      heading.appendChild(link);
      teaser.appendChild(heading);
      teaser.appendChild(text("p", "c-teaser-meta", item.author + " \\u00b7 " + item.date_label));
      teaser.appendChild(text("p", "c-teaser-summary", item.summary));
      list.appendChild(teaser);
    });
    list.removeAttribute("aria-busy");
    list.setAttribute("data-rendered", "true");
  }
  function renderDisclosure(line) {
    var footer = doc.querySelector(".c-site-footer");
    if (!footer) { return; }
    if (line) { footer.appendChild(text("p", "c-disclosure disclosure", line)); }
    footer.setAttribute("data-rendered", "true");
  }
  function loadFigure(figure) {
    var img = new Image(Number(figure.getAttribute("data-width")),
                        Number(figure.getAttribute("data-height")));
    img.alt = "";
    img.src = figure.getAttribute("data-lazy-src");
    figure.insertBefore(img, figure.firstChild);
    figure.removeAttribute("data-lazy-src");
  }
  function watchLazyFigures() {
    var figures = doc.querySelectorAll("[data-lazy-src]");
    if (!("IntersectionObserver" in window)) { figures.forEach(loadFigure); return; }
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) { observer.unobserve(entry.target); loadFigure(entry.target); }
      });
    }, { rootMargin: "0px 0px 200px 0px" });
    figures.forEach(function (figure) { observer.observe(figure); });
  }
  function fail(error) {
    doc.documentElement.setAttribute("data-render-error", String(error));
  }
  getJSON("/api/site.json").then(function (site) {
    renderDisclosure(site.disclosure);
    var latest = doc.querySelector("[data-latest]");
    if (latest) { renderLatest(latest, site.latest); }
  }).catch(fail);
  var root = doc.querySelector("[data-article]");
  if (root) {
    getJSON(root.getAttribute("data-article")).then(function (data) {
      renderArticle(root, data);
      watchLazyFigures();
    }).catch(fail);
  }
})();
"""
