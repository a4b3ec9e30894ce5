"""The sites of the sample network and their content, read from `content/*.toml`.

The TOML files hold every sentence a reader sees; this module turns them into frozen records.
Revisions (see revisions.py) derive edited copies of these records; nothing here changes them.

`SITES` are the five sites a plain crawl of the network covers. `RENDERED_SITES` holds the
sixth, script-rendered sister (its article bodies and disclosure line arrive by fetch()): the
server always answers for it, but it is opt-in everywhere else, so that what tests, configs
and manifests count as "the network" stays the five.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

SITES: tuple[tuple[str, str], ...] = (
    ("paxpoint", "http://paxpoint.test/"),
    ("cognitura", "http://cognitura.test/"),
    ("justorium", "http://justorium.test/"),
    ("allyvia", "http://allyvia.test/"),
    ("factsignal", "http://factsignal.test/"),
)
HOSTS: frozenset[str] = frozenset(f"{name}.test" for name, _ in SITES)
# The script-rendered sister site: served always, listed only where asked for.
SCRIPT_SITE = "civiscope"
RENDERED_SITES: tuple[tuple[str, str], ...] = ((SCRIPT_SITE, f"http://{SCRIPT_SITE}.test/"),)
RENDERED_HOSTS: frozenset[str] = frozenset(f"{name}.test" for name, _ in RENDERED_SITES)
# Every host the sample network's proxy answers for.
SERVED_HOSTS: frozenset[str] = HOSTS | RENDERED_HOSTS

# The endless events calendar (a crawler trap): any month answers 200 and links to its
# neighbours, so only a crawler's own limits end it.
TRAP_HOST = "paxpoint.test"
TRAP_PATH = "/events/calendar"


@dataclass(frozen=True)
class Section:
    slug: str
    label: str
    blurb: str

    @property
    def path(self) -> str:
        return f"/{self.slug}/"


@dataclass(frozen=True)
class Article:
    """One article. Paragraph text may hold links written as [anchor](url)."""

    host: str
    section: str
    slug: str
    title: str
    date: str  # ISO 8601 publication date
    author: str
    summary: str
    terms: tuple[tuple[str, str], ...]  # topic/region/actor for the supporting paragraphs
    lede: str
    takeaways: tuple[str, ...]
    parts: tuple[tuple[str, str], ...]  # (heading, paragraph)
    conclusion: str
    draft: bool = False

    @property
    def path(self) -> str:
        return f"/{self.section}/{self.slug}/"

    @property
    def url(self) -> str:
        return f"http://{self.host}{self.path}"

    def texts(self) -> tuple[str, ...]:
        """Every piece of prose, in reading order (what revisions edit)."""
        return (self.lede, *self.takeaways, *(p for _, p in self.parts), self.conclusion)


@dataclass(frozen=True)
class Page:
    """A page outside the sections: events, resources, labs, status and the like."""

    path: str
    title: str
    description: str
    text: tuple[str, ...]
    label: str = ""  # the link text where it is listed
    footer: bool = False  # listed in every page's footer (and on the home page)
    kind: str = "page"  # "page", "hostile" (scripts that reach out of their frame) or "noise"


@dataclass(frozen=True)
class Document:
    """A non-HTML document: a PDF, or plain text when the path ends in .txt."""

    path: str
    title: str
    text: tuple[str, ...]


@dataclass(frozen=True)
class Site:
    name: str
    host: str
    title: str
    tagline: str
    description: str
    accent: str
    address: str
    mission: tuple[str, ...]
    sections: tuple[Section, ...]
    pages: tuple[Page, ...]
    documents: tuple[Document, ...]
    articles: tuple[Article, ...]  # published ones only, once a revision is applied
    drafts: tuple[Article, ...]
    disallow: tuple[str, ...]  # robots.txt Disallow paths
    redirects: tuple[tuple[str, str], ...]  # old path -> new path, answered with 301
    disclosure: bool = True  # whether the footer carries the disclosure line

    @property
    def url(self) -> str:
        return f"http://{self.host}/"

    def in_section(self, slug: str) -> tuple[Article, ...]:
        """The section's articles, newest first."""
        found = [a for a in self.articles if a.section == slug]
        return tuple(sorted(found, key=lambda a: (a.date, a.slug), reverse=True))

    def section(self, slug: str) -> Section:
        """The section whose slug is `slug`."""
        return next(s for s in self.sections if s.slug == slug)

    def disallowed(self, path: str) -> bool:
        """Whether robots.txt asks crawlers to stay away from `path`."""
        return any(path.startswith(prefix) for prefix in self.disallow)


@dataclass(frozen=True)
class Common:
    """Text shared by every site."""

    publisher: str
    disclosure: str
    cms: str
    contact: tuple[str, ...]
    privacy: tuple[str, ...]
    terms: tuple[str, ...]
    sentences: tuple[str, ...]


def _read(name: str) -> dict[str, Any]:
    path = resources.files(__package__).joinpath(f"content/{name}.toml")
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _article(host: str, raw: dict[str, Any]) -> Article:
    return Article(
        host=host,
        section=raw["section"],
        slug=raw["slug"],
        title=raw["title"],
        date=raw["date"],
        author=raw["author"],
        summary=raw["summary"],
        terms=tuple(sorted(raw["terms"].items())),
        lede=raw["lede"],
        takeaways=tuple(raw["takeaways"]),
        parts=tuple((h, p) for h, p in raw["parts"]),
        conclusion=raw["conclusion"],
        draft=raw.get("draft", False),
    )


def _site(name: str) -> Site:
    raw = _read(name)
    host = f"{name}.test"
    articles = tuple(_article(host, a) for a in raw["articles"])
    return Site(
        name=name,
        host=host,
        title=raw["title"],
        tagline=raw["tagline"],
        description=raw["description"],
        accent=raw["accent"],
        address=raw["address"],
        mission=tuple(raw["mission"]),
        sections=tuple(Section(**s) for s in raw["sections"]),
        pages=tuple(
            Page(**{**p, "text": tuple(p["text"])}) for p in raw.get("pages", ())
        ),
        documents=tuple(
            Document(d["path"], d["title"], tuple(d["text"])) for d in raw.get("documents", ())
        ),
        articles=tuple(a for a in articles if not a.draft),
        drafts=tuple(a for a in articles if a.draft),
        disallow=tuple(raw.get("disallow", ())),
        redirects=tuple(raw.get("redirects", {}).items()),
    )


@lru_cache(maxsize=1)
def load_sites() -> tuple[Site, ...]:
    """The five sites as written in content/, before any revision's edits."""
    return tuple(_site(name) for name, _ in SITES)


@lru_cache(maxsize=1)
def load_rendered_sites() -> tuple[Site, ...]:
    """The script-rendered sites as written in content/. Their `articles` include the
    unlisted ones (see `unlisted_slugs`)."""
    return tuple(_site(name) for name, _ in RENDERED_SITES)


@lru_cache(maxsize=4)
def unlisted_slugs(name: str) -> frozenset[str]:
    """Slugs of the site's articles that only its script-rendered lists link to."""
    return frozenset(_read(name).get("unlisted", ()))


@lru_cache(maxsize=1)
def load_common() -> Common:
    """The text every site shares (disclosure line, privacy notice, sentence bank)."""
    raw = _read("common")
    return Common(
        publisher=raw["publisher"],
        disclosure=raw["disclosure"],
        cms=raw["cms"],
        contact=tuple(raw["contact"]),
        privacy=tuple(raw["privacy"]),
        terms=tuple(raw["terms"]),
        sentences=tuple(raw["sentences"]),
    )
