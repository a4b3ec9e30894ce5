"""What a polite crawl of one revision should find, for tests to compare a crawl against.

Nothing here is a hand-kept list: the manifest crawls the revision's own rendered responses
(from the seeds, then from the sitemaps, obeying robots.txt as served), and `changes` compares
rendered bodies byte for byte. Both cover the five sites of `SITES`; the script-rendered
sister has entries of its own (`rendered_manifest`, `rendered_changes`), read the same way
from its served shells and the JSON their script fetches.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass, replace
from functools import lru_cache
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser
from xml.etree import ElementTree

from palimpsest.sample_network.revisions import clamp
from palimpsest.sample_network.sites import (
    HOSTS,
    RENDERED_SITES,
    SCRIPT_SITE,
    SITES,
    TRAP_HOST,
    TRAP_PATH,
)
from palimpsest.sample_network.snapshot import CSS, Resource, Snapshot, snapshot

TRAP_PREFIX = f"http://{TRAP_HOST}{TRAP_PATH}"
HOSTILE_PAGE = "http://factsignal.test/labs/embed-test/"
NOISE_PAGE = "http://factsignal.test/status/"
_EMBED_RELS = {"stylesheet", "preload", "icon", "modulepreload"}
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)""")
_SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@dataclass(frozen=True)
class Manifest:
    """What one revision holds, as a polite crawler (robots obeyed, trap avoided) sees it.
    All URLs are absolute, on the sites' own hosts."""

    revision: int
    pages: frozenset[str]  # HTML pages answering 200, by links from the seeds or a sitemap
    disallowed: frozenset[str]  # linked, but under a robots.txt Disallow
    sitemap_only: frozenset[str]  # pages that only a sitemap lists
    redirects: dict[str, str]  # linked URL answering 301 -> its Location
    broken: frozenset[str]  # linked URLs answering 404
    requisites: frozenset[str]  # stylesheets, scripts, images, fonts
    documents: frozenset[str]  # linked non-HTML documents (PDF, plain text)
    trap_prefix: str  # every URL starting with it is the endless calendar
    hostile_page: str  # page whose scripts try to reach the framing window
    noise_page: str  # page whose "Last updated" date changes in every revision
    disclosure: str  # the exact disclosure sentence
    disclosure_sites: frozenset[str]  # names of the sites whose footers carry it


@dataclass(frozen=True)
class Changes:
    """How the pages of revision `new` differ from those of revision `old`."""

    old: int
    new: int
    added: frozenset[str]
    removed: frozenset[str]
    changed: frozenset[str]  # in both, with bodies that differ
    unchanged: frozenset[str]  # in both, byte-identical


@dataclass(frozen=True)
class RenderedManifest:
    """What one revision of the script-rendered site holds. All URLs absolute."""

    revision: int
    site: str
    seed: str
    pages: frozenset[str]  # HTML shells reached by plain links from the seed or the sitemap
    script_only: frozenset[str]  # pages that only script-rendered content (the JSON) links to
    endpoints: frozenset[str]  # the JSON the pages' script fetches
    script_images: frozenset[str]  # images the script adds to a page
    lazy_images: frozenset[str]  # loading=lazy in the rendered body, or IntersectionObserver
    disclosure: str | None  # the line the script puts in every footer; None if dropped


class _Links(HTMLParser):
    """Collects a page's navigational links and its embeds, as a crawler would."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.navigation: list[str] = []
        self.embeds: list[str] = []
        self.lazy: list[str] = []  # loading=lazy images, and data-lazy-src for a script
        self.fetched: list[str] = []  # data-article: the JSON a shell's script fetches

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "a" and found.get("href"):
            self.navigation.append(found["href"])
        elif tag == "link" and found.get("href"):
            rels = set(found.get("rel", "").lower().split())
            (self.embeds if rels & _EMBED_RELS else self.navigation).append(found["href"])
        elif tag in ("img", "script", "source", "iframe"):
            if found.get("src"):
                self.embeds.append(found["src"])
            for candidate in found.get("srcset", "").split(","):
                if candidate.strip():
                    self.embeds.append(candidate.split()[0])
        if tag == "img" and found.get("loading") == "lazy" and found.get("src"):
            self.lazy.append(found["src"])
        if found.get("data-lazy-src"):
            self.lazy.append(found["data-lazy-src"])
        if found.get("data-article"):
            self.fetched.append(found["data-article"])


def _absolute(base: str, href: str) -> str | None:
    url = urldefrag(urljoin(base, href.strip())).url
    return url if url.startswith("http://") else None


def _resource(snap: Snapshot, url: str) -> Resource:
    parts = urlsplit(url)
    return snap.lookup(parts.hostname or "", parts.path or "/", parts.query)


@lru_cache(maxsize=8)
def _explore(revision: int) -> tuple[Manifest, dict[str, str]]:
    snap = snapshot(revision)
    robots: dict[str, RobotFileParser] = {}
    for host in HOSTS:
        parser = RobotFileParser()
        parser.parse(_resource(snap, f"http://{host}/robots.txt").body.decode().splitlines())
        robots[host] = parser
    pages: set[str] = set()
    linked: set[str] = set()  # pages some other page links to
    disallowed: set[str] = set()
    broken: set[str] = set()
    documents: set[str] = set()
    embeds: set[str] = set()
    redirects: dict[str, str] = {}
    queue: deque[str] = deque()

    def reach(url: str) -> None:
        host = urlsplit(url).hostname
        if host not in HOSTS or url.startswith(TRAP_PREFIX) or url in pages:
            return
        if not robots[host].can_fetch("*", url):
            disallowed.add(url)
            return
        answer = _resource(snap, url)
        if 300 <= answer.status < 400:
            if url not in redirects:
                redirects[url] = answer.location
                reach(answer.location)
        elif answer.status == 404:
            broken.add(url)
        elif answer.is_html:
            pages.add(url)
            queue.append(url)
        else:
            documents.add(url)

    def crawl() -> None:
        while queue:
            page = queue.popleft()
            parser = _Links()
            parser.feed(_resource(snap, page).body.decode())
            for href in parser.navigation:
                url = _absolute(page, href)
                if url:
                    if url != page:
                        linked.add(url)
                    reach(url)
            embeds.update(u for u in (_absolute(page, h) for h in parser.embeds) if u)

    for _, seed in SITES:
        reach(seed)
    crawl()
    listed: set[str] = set()
    for _, seed in SITES:
        tree = ElementTree.fromstring(_resource(snap, urljoin(seed, "/sitemap.xml")).body)
        listed.update(loc.text or "" for loc in tree.iter(f"{_SITEMAP_NS}loc"))
    for url in sorted(listed):
        reach(url)
    crawl()

    requisites = set(embeds)
    for url in embeds:
        answer = _resource(snap, url)
        if answer.content_type == CSS:
            for ref in _CSS_URL.findall(answer.body.decode()):
                requisites.add(urljoin(url, ref))
    ed = snap.edition
    found = Manifest(
        revision=ed.revision,
        pages=frozenset(pages),
        disallowed=frozenset(disallowed),
        sitemap_only=frozenset(listed - linked),
        redirects={},
        broken=frozenset(broken),
        requisites=frozenset(requisites),
        documents=frozenset(documents),
        trap_prefix=TRAP_PREFIX,
        hostile_page=HOSTILE_PAGE,
        noise_page=NOISE_PAGE,
        disclosure=ed.common.disclosure,
        disclosure_sites=frozenset(s.name for s in ed.sites if s.disclosure),
    )
    return found, redirects


def manifest(revision: int) -> Manifest:
    """What revision `revision` (clamped to the last) holds: see Manifest."""
    found, redirects = _explore(clamp(revision))
    # A fresh dict each call, so that a caller changing it cannot change the next answer.
    return replace(found, redirects=dict(redirects))


def changes(old: int, new: int) -> Changes:
    """Pages added, removed, changed and unchanged from revision `old` to revision `new`,
    found by comparing the bodies the server sends."""
    before, after = manifest(old), manifest(new)
    old_snap, new_snap = snapshot(old), snapshot(new)
    both = before.pages & after.pages
    changed = frozenset(
        url for url in both if _resource(old_snap, url).body != _resource(new_snap, url).body
    )
    return Changes(
        old=before.revision,
        new=after.revision,
        added=after.pages - before.pages,
        removed=before.pages - after.pages,
        changed=changed,
        unchanged=both - changed,
    )


_GET_JSON = re.compile(r"""getJSON\("([^"]+)"\)""")


def _parsed(html_text: str) -> _Links:
    parser = _Links()
    parser.feed(html_text)
    return parser


@lru_cache(maxsize=8)
def _explore_rendered(revision: int) -> RenderedManifest:
    snap = snapshot(revision)
    ((name, seed),) = [s for s in RENDERED_SITES if s[0] == SCRIPT_SITE]
    host = urlsplit(seed).hostname or ""
    pages: set[str] = set()  # reached by HTML links, as a plain crawler reaches them
    script_only: set[str] = set()  # reached only through what the script renders
    endpoints: set[str] = set()
    lazy: set[str] = set()
    scripts: set[str] = set()
    script_images: set[str] = set()
    disclosure = None

    def visit(queue: deque[str], into: set[str]) -> None:
        while queue:
            url = queue.popleft()
            if urlsplit(url).hostname != host or url in pages or url in script_only:
                continue
            answer = _resource(snap, url)
            if answer.status != 200 or not answer.is_html:
                continue
            into.add(url)
            parser = _parsed(answer.body.decode())
            queue.extend(u for u in (_absolute(url, h) for h in parser.navigation) if u)
            endpoints.update(urljoin(url, h) for h in parser.fetched)
            lazy.update(urljoin(url, h) for h in parser.lazy)
            scripts.update(u for u in (_absolute(url, h) for h in parser.embeds)
                           if u and u.endswith(".js"))
        for script in scripts:  # what the pages' scripts fetch whatever the page
            body = _resource(snap, script).body.decode()
            endpoints.update(urljoin(script, p) for p in _GET_JSON.findall(body))

    sitemap = ElementTree.fromstring(_resource(snap, urljoin(seed, "/sitemap.xml")).body)
    visit(deque([seed, *(loc.text or "" for loc in sitemap.iter(f"{_SITEMAP_NS}loc"))]), pages)
    read: set[str] = set()
    while endpoints - read:
        linked: set[str] = set()
        for endpoint in sorted(endpoints - read):
            read.add(endpoint)
            data = json.loads(_resource(snap, endpoint).body)
            if "disclosure" in data:
                disclosure = data["disclosure"]
            linked.update(urljoin(endpoint, item["url"]) for item in data.get("latest", ()))
            fragments = [data.get("lede", ""), *data.get("takeaways", ()),
                         data.get("conclusion", ""),
                         *(p for part in data.get("parts", ()) for p in part["paragraphs"])]
            for fragment in fragments:
                linked.update(_parsed(fragment).navigation)
            if "photo" in data:
                script_images.add(urljoin(endpoint, data["photo"]["src"]))
            if "chart" in data:
                lazy.add(urljoin(endpoint, data["chart"]["src"]))
        visit(deque(sorted(linked)), script_only)
    return RenderedManifest(
        revision=snap.edition.revision,
        site=name,
        seed=seed,
        pages=frozenset(pages),
        script_only=frozenset(script_only),
        endpoints=frozenset(endpoints),
        script_images=frozenset(script_images),
        lazy_images=frozenset(lazy),
        disclosure=disclosure,
    )


def rendered_manifest(revision: int) -> RenderedManifest:
    """What revision `revision` (clamped to the last) of the script-rendered site holds."""
    return _explore_rendered(clamp(revision))


def rendered_changes(old: int, new: int) -> Changes:
    """How the script-rendered site's pages (shells, script-only pages) and JSON endpoints
    differ from revision `old` to revision `new`, byte for byte."""
    before, after = rendered_manifest(old), rendered_manifest(new)
    old_snap, new_snap = snapshot(old), snapshot(new)

    def urls(found: RenderedManifest) -> frozenset[str]:
        return found.pages | found.script_only | found.endpoints

    both = urls(before) & urls(after)
    changed = frozenset(
        url for url in both if _resource(old_snap, url).body != _resource(new_snap, url).body
    )
    return Changes(
        old=before.revision,
        new=after.revision,
        added=urls(after) - urls(before),
        removed=urls(before) - urls(after),
        changed=changed,
        unchanged=both - changed,
    )
