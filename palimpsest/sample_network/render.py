"""The frame every HTML page of the sample network shares: head, network bar, header, footer.

All five sites run the same (fictional) CMS theme, so their pages share one shape: the same
network bar, a header menu of three sections plus About and Contact, and a footer that lists
the sister sites and, in most revisions, the disclosure line. Page bodies are in pages.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import palimpsest.sample_network.chrome as chrome
from palimpsest.sample_network.revisions import Edition
from palimpsest.sample_network.sites import Article, Site

# Image sizes, chosen so that every generated image weighs 20-60 KB.
LOGO = (180, 60)
BANNER = (240, 80)
HERO = (220, 80)
HERO_SMALL = (150, 64)
TEXTURE = (128, 96)

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def e(text: str) -> str:
    """Escape for HTML text and attribute values."""
    return escape(text, quote=True)


def month_name(month: int) -> str:
    """English month name (1 = January), independent of the process locale."""
    return _MONTHS[month - 1]


def long_date(iso: str) -> str:
    """2026-02-10 -> February 10, 2026 (no locale involved, so output never varies)."""
    year, month, day = iso.split("-")
    return f"{_MONTHS[int(month) - 1]} {int(day)}, {int(year)}"


def has_srcset(article: Article) -> bool:
    """Whether the article's hero image offers a smaller variant through srcset.

    Decided by the slug alone so that edits elsewhere never change it."""
    return len(article.slug) % 2 == 0


def hero_img(article: Article, *, lazy: bool) -> str:
    """The <img> element of an article's hero image."""
    width, height = HERO
    srcset = ""
    if has_srcset(article):
        srcset = (
            f' srcset="/media/{article.slug}.png {width}w, '
            f'/media/{article.slug}-small.png {HERO_SMALL[0]}w"'
            f' sizes="(max-width: 480px) {HERO_SMALL[0]}px, {width}px"'
        )
    loading = "lazy" if lazy else "eager"
    return (
        f'<img src="/media/{article.slug}.png"{srcset} width="{width}" height="{height}" '
        f'alt="" loading="{loading}" decoding="async">'
    )


@dataclass(frozen=True)
class Frame:
    """One site within one revision: what a page needs to draw its surroundings."""

    edition: Edition
    site: Site

    def url(self, path: str) -> str:
        return f"http://{self.site.host}{path}"


def _network_bar(frame: Frame) -> str:
    items = []
    for site in frame.edition.sites:
        current = ' aria-current="true"' if site.name == frame.site.name else ""
        items.append(f'<li><a href="{e(site.url)}"{current}>{e(site.title)}</a></li>')
    return (
        '<div class="c-network-bar" role="navigation" aria-label="Network">'
        '<span class="c-network-label">Part of the network:</span>'
        f'<ul class="c-network-list">{"".join(items)}</ul></div>'
    )


def _header(frame: Frame, current: str) -> str:
    site = frame.site
    menu = [(s.path, s.label) for s in site.sections] + [("/about/", "About"),
                                                         ("/contact/", "Contact")]
    items = []
    for path, label in menu:
        mark = ' aria-current="page"' if current.startswith(path) else ""
        items.append(
            f'<li class="c-nav-item"><a class="c-nav-link" href="{e(path)}"{mark}>'
            f"{e(label)}</a></li>"
        )
    width, height = LOGO
    return f"""<header class="c-site-header">
<div class="c-brand">
<a class="c-brand-link" href="/"><img class="c-brand-logo" src="/media/logo.png"
 width="{width}" height="{height}" alt="{e(site.title)}"></a>
<div><p class="c-brand-name"><a href="/">{e(site.title)}</a></p>
<p class="c-brand-tagline">{e(site.tagline)}</p></div>
</div>
<button class="c-button" type="button" data-menu-toggle aria-controls="main-nav"
 aria-expanded="false">Menu</button>
<nav id="main-nav" class="c-main-nav" aria-label="Main"><ul>
{chr(10).join(items)}
</ul></nav>
</header>"""


def _links(pairs: list[tuple[str, str]]) -> str:
    return "".join(
        f'<li><a class="c-footer-link" href="{e(href)}">{e(label)}</a></li>'
        for href, label in pairs
    )


def _footer(frame: Frame) -> str:
    site = frame.site
    sections = [(s.path, s.label) for s in site.sections]
    essentials = [("/about/", "About"), ("/contact/", "Contact"), ("/privacy/", "Privacy"),
                  ("/terms/", "Terms of Use")]
    essentials += [(p.path, p.label) for p in site.pages if p.footer]
    network = [(s.url, s.title) for s in frame.edition.sites]
    disclosure = ""
    if site.disclosure:
        line = e(frame.edition.common.disclosure)
        disclosure = f'\n<p class="c-disclosure disclosure">{line}</p>'
    return f"""<footer class="c-site-footer">
<div class="c-footer-columns u-cols-4">
<section class="c-footer-column"><h2 class="c-footer-heading">{e(site.title)}</h2>
<p>{e(site.description)}</p>
<address>{e(site.address)}</address></section>
<section class="c-footer-column"><h2 class="c-footer-heading">Sections</h2>
<ul>{_links(sections)}</ul></section>
<section class="c-footer-column"><h2 class="c-footer-heading">Essentials</h2>
<ul>{_links(essentials)}</ul></section>
<section class="c-footer-column"><h2 class="c-footer-heading">Our network</h2>
<ul>{_links(network)}</ul></section>
</div>
<p class="c-copyright">&copy; 2026 {e(site.title)}. All rights reserved.</p>{disclosure}
</footer>"""


def document(
    frame: Frame,
    *,
    path: str | None,
    title: str,
    description: str,
    kind: str,
    main: str,
    section: str = "",
    published: str = "",
    author: str = "",
    body_end: str = "",
) -> str:
    """A whole HTML page of `frame.site` around `main`. `path` None means an error page,
    which names no canonical URL."""
    site, common = frame.site, frame.edition.common
    url = frame.url(path) if path is not None else ""
    full_title = f"{site.title} | {site.tagline}" if path == "/" else f"{title} | {site.title}"
    ld: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle" if kind == "article" else "WebPage",
        "headline" if kind == "article" else "name": title,
        "description": description,
        "inLanguage": "en",
        "publisher": {
            "@type": "Organization",
            "name": site.title,
            "logo": {"@type": "ImageObject", "url": frame.url("/media/logo.png")},
        },
    }
    if url:
        ld["url"] = url
    if published:
        ld["datePublished"] = published
        ld["author"] = {"@type": "Person", "name": author}
    meta_published = (
        f'\n<meta property="article:published_time" content="{e(published)}">' if published else ""
    )
    canonical = f'\n<link rel="canonical" href="{e(url)}">' if url else ""
    og_type = "article" if kind == "article" else "website"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(full_title)}</title>
<meta name="description" content="{e(description)}">
<meta name="generator" content="{e(common.cms)}">
<meta property="og:site_name" content="{e(site.title)}">
<meta property="og:title" content="{e(title)}">
<meta property="og:type" content="{og_type}">{meta_published}{canonical}
<link rel="icon" href="/favicon.ico" sizes="32x32">
<link rel="preload" href="/assets/fonts/body.woff2" as="font" type="font/woff2" crossorigin>
<link rel="stylesheet" href="/assets/site.css">
<style id="lp-theme">
{chrome.theme_css(site.accent)}
</style>
<script id="lp-config">
{chrome.page_config(site, url, kind, section)}
</script>
<script type="application/ld+json">
{chrome.json_ld(ld)}
</script>
<script src="/assets/site.js" defer></script>
</head>
<body class="page-{e(kind)} site-{e(site.name)}">
<a class="c-skip-link" href="#main">Skip to content</a>
<div class="c-reading-progress" data-progress></div>
{_network_bar(frame)}
{_header(frame, path or "")}
<main id="main" class="c-main">
{main}
</main>
{_footer(frame)}
<script>
{chrome.BOOTSTRAP_JS}
</script>{body_end}
</body>
</html>
"""
