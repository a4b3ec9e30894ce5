"""How the sample network changes from one revision to the next.

Revision 1 is the content as written. Each later revision applies the edits below on top of
the previous one, the way a real network changes: a few paragraphs and titles edited, a page
withdrawn, a page published, one site's footer losing its disclosure line, a new cross-link,
while most pages stay byte-identical.

Revision 2:
  - paxpoint  harbor-talks article: one sentence changed (a figure and its source)
  - cognitura certainty-trap article: one sentence removed
  - factsignal casualty-figures article: one sentence added
  - factsignal monitoring-bodies article: a new cross-link to justorium's amicus brief
  - justorium coastal-boundary article and cognitura schools article: titles edited
  - justorium comment-on-the-draft-sanctions-rules: withdrawn (404, no longer linked)
  - cognitura family-networks-in-recovery: published (linked from its section index)
  - allyvia: disclosure line dropped from the footer (every allyvia page changes)
Revision 3:
  - paxpoint mobile-clinics article: one sentence replaced by two
  - factsignal measuring-consistency-across-mandates: published
  - allyvia: disclosure line restored; justorium: disclosure line dropped
Every revision: the "Last updated" date on factsignal's /status/ page (the noise page).

The script-rendered sister, civiscope (opt-in: see sites.RENDERED_SITES), changes only in what
its JSON says, so its HTML shells stay byte-identical and a plain crawl sees no change at all:
Revision 2:
  - port-levy article: one sentence changed (a figure qualified)
  - the disclosure line is dropped from /api/site.json (the footer its script fills)
Revision 3:
  - counting-ballots article: one sentence changed (a figure and its reason)
  - the disclosure line is back
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache

from palimpsest.sample_network.sites import (
    SITES,
    Article,
    Common,
    Site,
    load_common,
    load_rendered_sites,
    load_sites,
)

LATEST = 3


@dataclass(frozen=True)
class TextEdit:
    """Replace `old` (which must occur exactly once in the article's prose) by `new`."""

    revision: int
    url: str
    old: str
    new: str


@dataclass(frozen=True)
class TitleEdit:
    revision: int
    url: str
    title: str


@dataclass(frozen=True)
class Publish:
    """A draft article goes live."""

    revision: int
    url: str


@dataclass(frozen=True)
class Withdraw:
    """A published article is taken down: it answers 404 and nothing links to it."""

    revision: int
    url: str


Edit = TextEdit | TitleEdit | Publish | Withdraw

EDITS: tuple[Edit, ...] = (
    TextEdit(
        2,
        "http://paxpoint.test/diplomacy/harbor-talks-enter-second-year/",
        "have fallen by roughly a third, according to figures both authorities released in "
        "January.",
        "have fallen by about a quarter, according to revised figures both authorities "
        "released in March.",
    ),
    TextEdit(2, "http://cognitura.test/psychology/the-certainty-trap/",
             "The simplicity is the point. ", ""),
    TextEdit(
        2,
        "http://factsignal.test/evidence/reading-casualty-figures-carefully/",
        "should not be mixed without explanation.",
        "should not be mixed without explanation. Where possible, we note which method lies "
        "behind each figure we cite.",
    ),
    TextEdit(
        2,
        "http://factsignal.test/studies/how-monitoring-bodies-choose-their-cases/",
        "The pattern held across different types of mandate.",
        "The pattern held across different types of mandate. Legal advocates have raised a "
        "similar concern about access cases, as in [Justorium's amicus brief on humanitarian "
        "access](http://justorium.test/briefs/amicus-brief-on-aid-access/).",
    ),
    TitleEdit(2, "http://justorium.test/cases/the-coastal-boundary-arbitration/",
              "The Coastal Boundary Arbitration: What the Tribunal Decided"),
    TitleEdit(2, "http://cognitura.test/prevention/schools-as-early-warning-partners/",
              "Schools as Partners in Early Warning, Not Surveillance"),
    Withdraw(2, "http://justorium.test/briefs/comment-on-the-draft-sanctions-rules/"),
    Publish(2, "http://cognitura.test/case-studies/family-networks-in-recovery/"),
    TextEdit(
        3,
        "http://paxpoint.test/humanitarian/mobile-clinics-reach-tesmar-border-villages/",
        "Mixing national and local staff has helped with languages and with follow-up, since "
        "the local worker knows which households missed a visit.",
        "Mixing national and local staff has helped with languages and with follow-up. Since "
        "January, a second community worker has joined the longest route twice a month.",
    ),
    Publish(3, "http://factsignal.test/studies/measuring-consistency-across-mandates/"),
)

# Edits of the script-rendered site, kept apart so that EDITS stays the five sites' story.
RENDERED_EDITS: tuple[Edit, ...] = (
    TextEdit(
        2,
        "http://civiscope.test/figures/the-port-levy-in-five-lines/",
        "the gap was under four percent in each of the last three years.",
        "the gap was under four percent in two of the last three years and just over five "
        "percent in the third, when a dredger was out of service for repairs.",
    ),
    TextEdit(
        3,
        "http://civiscope.test/figures/counting-ballots-in-orvane/",
        "the largest gap in any district was thirty-seven ballots, most of them",
        "the largest gap in any district was forty-one ballots, four of them found in a "
        "recount, and most of them",
    ),
)

_ALL = frozenset(name for name, _ in SITES)
# Sites whose footers carry the disclosure line in each revision.
DISCLOSURE_SITES: dict[int, frozenset[str]] = {
    1: _ALL,
    2: _ALL - {"allyvia"},
    3: _ALL - {"justorium"},
}
# Revisions in which the script-rendered sites' footers (filled by their script) carry it.
RENDERED_DISCLOSURE: dict[int, bool] = {1: True, 2: False, 3: True}
# The date on the noise page's "Last updated" line; also the revision's Last-Modified.
UPDATED: dict[int, str] = {1: "2026-03-02", 2: "2026-04-06", 3: "2026-05-04"}


@dataclass(frozen=True)
class Edition:
    """The whole network as it stands in one revision."""

    revision: int
    sites: tuple[Site, ...]
    common: Common
    updated: str  # ISO date shown on the noise page
    rendered: tuple[Site, ...] = ()  # the script-rendered sisters (not in `sites`)

    @property
    def last_modified(self) -> str:
        """The HTTP date every response of this revision carries as Last-Modified."""
        moment = datetime.fromisoformat(self.updated).replace(hour=9, tzinfo=UTC)
        return format_datetime(moment, usegmt=True)

    def site(self, host: str) -> Site:
        return next(s for s in self.sites if s.host == host)


def clamp(revision: int) -> int:
    """The revision actually served for `revision`: revisions past the last serve the last."""
    if revision < 1:
        raise ValueError(f"revisions start at 1, not {revision}")
    return min(revision, LATEST)


def _replace_text(article: Article, old: str, new: str) -> Article:
    found = sum(text.count(old) for text in article.texts())
    if found != 1:
        raise ValueError(f"{article.url}: expected {old!r} once, found it {found} times")

    def fix(text: str) -> str:
        return text.replace(old, new)

    return replace(
        article,
        lede=fix(article.lede),
        takeaways=tuple(map(fix, article.takeaways)),
        parts=tuple((heading, fix(text)) for heading, text in article.parts),
        conclusion=fix(article.conclusion),
    )


def _apply(site: Site, edit: Edit) -> Site:
    by_url = {a.url: a for a in site.articles}
    if isinstance(edit, Publish):
        draft = next(a for a in site.drafts if a.url == edit.url)
        return replace(
            site,
            articles=(*site.articles, replace(draft, draft=False)),
            drafts=tuple(a for a in site.drafts if a is not draft),
        )
    if isinstance(edit, Withdraw):
        if edit.url not in by_url:
            raise ValueError(f"cannot withdraw {edit.url}: not published")
        return replace(site, articles=tuple(a for a in site.articles if a.url != edit.url))
    article = by_url[edit.url]
    if isinstance(edit, TitleEdit):
        changed = replace(article, title=edit.title)
    else:
        changed = _replace_text(article, edit.old, edit.new)
    return replace(
        site, articles=tuple(changed if a.url == edit.url else a for a in site.articles)
    )


@lru_cache(maxsize=LATEST)
def edition(revision: int) -> Edition:
    """The network in `revision` (clamped to the last one)."""
    revision = clamp(revision)
    sites = []
    for site in load_sites():
        for edit in EDITS:
            if edit.revision <= revision and edit.url.startswith(site.url):
                site = _apply(site, edit)
        sites.append(replace(site, disclosure=site.name in DISCLOSURE_SITES[revision]))
    rendered = []
    for site in load_rendered_sites():
        for edit in RENDERED_EDITS:
            if edit.revision <= revision and edit.url.startswith(site.url):
                site = _apply(site, edit)
        rendered.append(replace(site, disclosure=RENDERED_DISCLOSURE[revision]))
    return Edition(revision, tuple(sites), load_common(), UPDATED[revision], tuple(rendered))
