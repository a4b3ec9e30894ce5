"""The capture view's "Extracted text" tab: the main text or the full visible text (menus
and footers included), with a search's words marked where the search found them.

    /view/text/<ts>/<url>[?<the archived URL's query>][&text=full|main][&q=<search>]

The query string is the archived URL's own, as everywhere under /web/ and /view/; the tab's
own arguments, `text` and `q`, come last, and are taken as the tab's only when the URL with
them has no capture at that time (`text_tab_url` writes such links). Words are marked as
search snippets mark them (index.snippets): "negotiate" for `negotiations`, a phrase only
where its words stand together, nothing under NOT.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from index.catalog import Capture, Catalog
from index.errors import QueryError
from index.extract import Extracted
from index.search.analysis import stems
from index.search.query import TextQuery, Wildcard, expand_wildcard, wildcard_prefix
from index.search.snippets import Wanted

TAB_ARGS = ("text", "q")

Run = tuple[str, bool]  # a stretch of text, and whether it is marked


@dataclass
class TextView:
    """What the tab shows: which text, its paragraphs as runs, and how the search went."""

    full: bool  # the full visible text (else the main text)
    chosen: bool  # `full` was chosen for the search's words, not asked for
    paragraphs: list[list[Run]]
    q: str = ""
    marked: int = 0  # words marked
    problem: str = ""  # why the search's words could not be marked
    other_holds: bool = False  # the other text holds more of the search's words


def text_tab_url(timestamp: str, url: str, full: bool | None = None, q: str = "") -> str:
    """The text tab of the capture of `url` at `timestamp`: the full visible text if `full`,
    the main text if False, if None the one that holds more of `q`'s words (the main text
    on a tie); `q` a search whose words are marked."""
    args = ([("text", "full" if full else "main")] if full is not None else []) + \
        ([("q", q)] if q else [])
    path = f"/view/text/{timestamp}/{url}"
    return f"{path}{'&' if '?' in url else '?'}{urlencode(args)}" if args else path


def tab_capture(catalog: Catalog, url: str, timestamp: str
                ) -> tuple[Capture | None, dict[str, str]]:
    """The capture at exactly `timestamp` that the text tab's `url` (with its query string)
    names, and the tab's own arguments that end it (see the module's docstring)."""
    base, _, query = url.partition("?")
    params = query.split("&") if query else []
    ours = 0
    while ours < len(params) and params[-1 - ours].partition("=")[0] in TAB_ARGS:
        ours += 1
    for cut in range(ours + 1):
        kept = params[:len(params) - cut]
        capture = catalog.nearest(base + ("?" + "&".join(kept) if kept else ""), timestamp)
        if capture is not None and capture.timestamp == timestamp:
            return capture, dict(parse_qsl("&".join(params[len(params) - cut:])))
    return None, {}


def text_view(extracted: Extracted, args: dict[str, str]) -> TextView:
    """The tab for these arguments: `text=full|main` (else chosen as `text_tab_url` says),
    `q` the search whose words are marked."""
    q = args.get("q", "").strip()
    main, full = extracted.main_text, extracted.full_text
    wanted, problem = None, ""
    if q:
        words: set[str] = set()  # the page's, stemmed only if a wildcard asks for them

        def expand(node: Wildcard) -> list[str]:
            if not words:
                words.update(stems(full), stems(main))
            return _on_page(node, words)
        try:
            wanted = Wanted.of(TextQuery.parse(q).root, expand)
        except QueryError as exc:
            problem = str(exc)
    asked = {"full": True, "main": False}.get(args.get("text", ""))
    in_main, in_full = (wanted.held(main), wanted.held(full)) if wanted else (0, 0)
    shown_full = in_full > in_main if asked is None else asked
    text = full if shown_full else main
    marks = wanted.marks(text) if wanted else []
    return TextView(full=shown_full, chosen=asked is None and shown_full,
                    paragraphs=paragraphs(text, marks), q=q, marked=len(marks),
                    problem=problem,
                    other_holds=in_main > in_full if shown_full else in_full > in_main)


def paragraphs(text: str, marks: list[tuple[int, int]]) -> list[list[Run]]:
    """`text`'s paragraphs (its lines that are not blank), each as runs of text, the
    stretches `marks` gives (start, end; in order, none across a line) marked."""
    found: list[list[Run]] = []
    spans = iter(marks)
    span = next(spans, None)
    start = 0
    for line in text.split("\n"):
        end = start + len(line)
        runs: list[Run] = []
        at = start
        while span is not None and span[1] <= end:
            if span[0] >= at:
                runs += [(text[at:span[0]], False)] if span[0] > at else []
                runs.append((text[span[0]:span[1]], True))
                at = span[1]
            span = next(spans, None)
        if at < end:
            runs.append((text[at:end], False))
        if line.strip():
            found.append(runs)
        start = end + 1
    return found


def _on_page(node: Wildcard, words: set[str]) -> list[str]:
    """The words of the page (as stems) that a wildcard stands for."""
    prefix = wildcard_prefix(node.pattern)
    return expand_wildcard(node.pattern, (w for w in words if w.startswith(prefix)),
                           words.__contains__, stemmed=True)
