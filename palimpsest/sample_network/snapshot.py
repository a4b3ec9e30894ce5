"""Every response of one revision, rendered once and kept as bytes.

The server answers from a Snapshot; the manifest reads the same Snapshot, so what the tests
expect is computed from exactly what the server sends.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape
from urllib.parse import parse_qs

import palimpsest.sample_network.chrome as chrome
import palimpsest.sample_network.font as font
import palimpsest.sample_network.media as media
import palimpsest.sample_network.pages as pages
import palimpsest.sample_network.rendered as rendered
from palimpsest.sample_network.render import (
    BANNER,
    HERO,
    HERO_SMALL,
    LOGO,
    TEXTURE,
    Frame,
    has_srcset,
)
from palimpsest.sample_network.revisions import LATEST, Edition, clamp, edition
from palimpsest.sample_network.sites import TRAP_HOST, TRAP_PATH, Site

HTML = "text/html; charset=utf-8"
CSS = "text/css; charset=utf-8"
JS = "text/javascript; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
XML = "application/xml; charset=utf-8"
JSON = "application/json; charset=utf-8"
# Only these are sent gzip-encoded to clients that accept it (images and PDFs gain nothing).
_COMPRESSIBLE = (HTML, CSS, JS, JSON)
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
DEFAULT_MONTH = "2026-03"


@dataclass
class Resource:
    """One response: status, type and body bytes (and, for 3xx, the Location)."""

    status: int
    content_type: str
    body: bytes
    location: str = ""
    etag: str = field(init=False)
    # Response header blocks the server has built for this resource, by variant.
    heads: dict[tuple[bool, str], bytes] = field(default_factory=dict, init=False, repr=False)
    _gzipped: bytes | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.etag = '"' + hashlib.sha1(self.body).hexdigest()[:20] + '"'

    @property
    def compressible(self) -> bool:
        return self.content_type in _COMPRESSIBLE

    @property
    def is_html(self) -> bool:
        return self.content_type == HTML

    def gzipped(self) -> bytes:
        """The body gzip-compressed, always to the same bytes (mtime 0), computed once."""
        if self._gzipped is None:
            # A race here only computes the same bytes twice.
            self._gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped


def _html(text: str, status: int = 200) -> Resource:
    return Resource(status, HTML, text.encode("utf-8"))


def _robots(site: Site) -> str:
    rules = "".join(f"Disallow: {path}\n" for path in site.disallow) or "Disallow:\n"
    return (
        f"# robots.txt for {site.host}\n"
        "# Crawlers are welcome; please keep to a few requests per second.\n"
        f"User-agent: *\n{rules}\n"
        f"Sitemap: http://{site.host}/sitemap.xml\n"
    )


def _sitemap(site: Site, paths: list[tuple[str, str]]) -> str:
    entries = []
    for path, lastmod in paths:
        stamp = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
        entries.append(f"<url><loc>{escape(f'http://{site.host}{path}')}</loc>{stamp}</url>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + "\n".join(entries)
        + "\n</urlset>\n"
    )


def _theme_assets(site: Site) -> dict[str, Resource]:
    """The theme's files every site serves (by path): stylesheet, script, font, texture,
    favicon, logo, banner and the articles' hero images."""
    found: dict[str, Resource] = {}
    found["/assets/site.css"] = Resource(200, CSS, chrome.site_css(site).encode())
    found["/assets/site.js"] = Resource(200, JS, chrome.SITE_JS.encode())
    found["/assets/fonts/body.woff2"] = Resource(200, "font/woff2", font.woff2("body-sans"))
    # One texture for every site: the same bytes under each site's URL, as shared themes do.
    found["/assets/img/texture.png"] = Resource(
        200, "image/png", media.png("texture", *TEXTURE, "#dcd8cf")
    )
    found["/favicon.ico"] = Resource(
        200, "image/vnd.microsoft.icon", media.ico(f"{site.name}/icon", site.accent)
    )
    found["/media/logo.png"] = Resource(
        200, "image/png", media.png(f"{site.name}/logo", *LOGO, site.accent)
    )
    found["/media/home-banner.png"] = Resource(
        200, "image/png", media.png(f"{site.name}/banner", *BANNER, site.accent)
    )
    for article in site.articles:
        found[f"/media/{article.slug}.png"] = Resource(
            200, "image/png", media.png(article.url, *HERO, site.accent)
        )
        if has_srcset(article):
            found[f"/media/{article.slug}-small.png"] = Resource(
                200, "image/png", media.png(article.url + "small", *HERO_SMALL, site.accent)
            )
    return found


def _site_resources(ed: Edition, site: Site) -> dict[str, Resource]:
    frame = Frame(ed, site)
    found: dict[str, Resource] = {}
    listed: list[tuple[str, str]] = []  # (path, lastmod) for the sitemap

    def add_page(path: str, text: str, lastmod: str = "") -> None:
        found[path] = _html(text)
        if not site.disallowed(path):
            listed.append((path, lastmod))

    add_page("/", pages.home(frame))
    for section in site.sections:
        add_page(section.path, pages.section_index(frame, section))
    for article in site.articles:
        add_page(article.path, pages.article(frame, article), article.date)
    add_page("/about/", pages.about(frame))
    add_page("/contact/", pages.contact(frame))
    add_page("/privacy/", pages.legal(frame, "privacy"))
    add_page("/terms/", pages.legal(frame, "terms"))
    for page in site.pages:
        add_page(page.path, pages.page(frame, page))
    if any(page.kind == "hostile" for page in site.pages):
        found["/assets/labs/embed-test.js"] = Resource(200, JS, pages.EMBED_TEST_JS.encode())

    for old, new in site.redirects:
        target = f"http://{site.host}{new}"
        note = f'<!DOCTYPE html>\n<title>Moved</title>\n<p><a href="{target}">Moved here</a>.</p>\n'
        found[old] = Resource(301, HTML, note.encode(), location=target)

    found.update(_theme_assets(site))
    for document in site.documents:
        if document.path.endswith(".txt"):
            found[document.path] = Resource(200, TEXT, ("\n".join(document.text) + "\n").encode())
        else:
            found[document.path] = Resource(
                200, "application/pdf", media.pdf(document.title, document.text)
            )
    found["/robots.txt"] = Resource(200, TEXT, _robots(site).encode())
    found["/sitemap.xml"] = Resource(200, XML, _sitemap(site, listed).encode())
    return {f"http://{site.host}{path}": resource for path, resource in found.items()}


def _rendered_site_resources(ed: Edition, site: Site) -> dict[str, Resource]:
    """Every response of a script-rendered site (see rendered.py): its HTML shells, the JSON
    they fetch, its script, and the images only that script asks for."""
    fr = rendered.frame(ed, site)
    found: dict[str, Resource] = {"/": _html(rendered.home(fr))}
    listed: list[tuple[str, str]] = [("/", "")]
    for section in site.sections:
        found[section.path] = _html(pages.section_index(fr, section))
        listed.append((section.path, ""))
    shown = set(rendered.listed(site))
    for article in site.articles:
        found[article.path] = _html(rendered.article_shell(fr, article))
        found[rendered.article_api(article)] = Resource(
            200, JSON, rendered.article_json(fr, article)
        )
        if article in shown:  # the unlisted ones only the script-rendered list links to
            listed.append((article.path, article.date))
    for path, text in (("/about/", pages.about(fr)), ("/contact/", pages.contact(fr)),
                       ("/privacy/", pages.legal(fr, "privacy")),
                       ("/terms/", pages.legal(fr, "terms"))):
        found[path] = _html(text)
        listed.append((path, ""))
    found[rendered.SITE_API] = Resource(200, JSON, rendered.site_json(fr, site))
    found[rendered.APP_JS_PATH] = Resource(200, JS, rendered.APP_JS.encode())
    found.update(_theme_assets(site))
    for article in site.articles:
        for path, seed, size in ((rendered.photo(article), "photo", HERO),
                                 (rendered.chart(article), "chart", HERO),
                                 (rendered.map_image(article), "map", BANNER)):
            found[path] = Resource(
                200, "image/png", media.png(f"{article.url}{seed}", *size, site.accent)
            )
    found["/robots.txt"] = Resource(200, TEXT, _robots(site).encode())
    found["/sitemap.xml"] = Resource(200, XML, _sitemap(site, listed).encode())
    return {f"http://{site.host}{path}": resource for path, resource in found.items()}


@dataclass
class Snapshot:
    """All responses of one revision, by absolute URL."""

    edition: Edition
    resources: dict[str, Resource]
    not_found: dict[str, Resource]  # by host

    @property
    def revision(self) -> int:
        return self.edition.revision

    def warm(self) -> Snapshot:
        """Compress every compressible body now, so that no request waits for it later."""
        for resource in self.resources.values():
            if resource.compressible:
                resource.gzipped()
        return self

    def lookup(self, host: str, path: str, query: str = "") -> Resource:
        """The response for http://host/path?query. `host` must be a site of the network."""
        url = f"http://{host}{path}" + (f"?{query}" if query else "")
        found = self.resources.get(url)
        if found is not None:
            return found
        if host == TRAP_HOST and path == TRAP_PATH:
            month = parse_qs(query).get("month", [DEFAULT_MONTH])[0]
            match = _MONTH.fullmatch(month)
            if match and int(match.group(1)) >= 1:
                return _calendar(self.revision, int(match.group(1)), int(match.group(2)))
        elif not path.endswith("/") and not query:
            # As CMSs do: /about answers 301 to /about/ when that is a page.
            slashed = self.resources.get(f"{url}/")
            if slashed is not None and slashed.status == 200 and slashed.is_html:
                return Resource(301, HTML, b"", location=f"{url}/")
        return self.not_found[host]


@lru_cache(maxsize=1024)
def _calendar(revision: int, year: int, month: int) -> Resource:
    ed = edition(revision)
    return _html(pages.calendar(Frame(ed, ed.site(TRAP_HOST)), year, month))


@lru_cache(maxsize=LATEST)
def _build(revision: int) -> Snapshot:
    ed = edition(revision)
    resources: dict[str, Resource] = {}
    not_found: dict[str, Resource] = {}
    for site in ed.sites:
        resources.update(_site_resources(ed, site))
        not_found[site.host] = _html(pages.not_found(Frame(ed, site)), status=404)
    for site in ed.rendered:
        resources.update(_rendered_site_resources(ed, site))
        not_found[site.host] = _html(pages.not_found(rendered.frame(ed, site)), status=404)
    return Snapshot(ed, resources, not_found)


def snapshot(revision: int) -> Snapshot:
    """Every response of `revision` (clamped to the last), rendered once per process."""
    return _build(clamp(revision))
