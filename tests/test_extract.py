"""Text extraction from captured payloads: what a researcher can later search for."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from index.extract import extract

URL = "http://paxpoint.test/news/morocco.html"

ARTICLE = (
    "Five years after the accords opened the door to relations between Israel and several "
    "Arab states, Israel and Morocco are showing how normalization can produce concrete and "
    "lasting results. Senior officers met in Tel Aviv for the third session of the joint "
    "military committee. The meeting concluded with the signing of a joint action plan, "
    "signalling confidence, continuity and shared purpose across the region."
)


def page(body: str, head: str = "", lang: str = "en", charset: str = "utf-8") -> str:
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="{charset}"><title>Morocco and Israel deepen ties</title>
<meta name="description" content="  Security partnership,   five years on. ">
<style>body {{ font-family: serif; }} .menu {{ color: red; }}</style>{head}</head>
<body>
<header><nav class="menu"><ul>
  <li><a href="/">Home</a></li><li><a href="/peace-efforts/">Peace efforts</a></li>
  <li><a href="/blog/">Blog</a></li><li><a href="http://sister.test/">Sister site</a></li>
</ul></nav></header>
<main><article><h1>Morocco and Israel deepen ties</h1>{body}</article></main>
<footer class="site-footer"><ul><li><a href="/privacy">Privacy policy</a></li>
<li><a href="/terms#top">Terms of use</a></li></ul>
<p>Distributed on behalf of a foreign principal.</p></footer>
<script>var tracking = "do not index me";</script>
</body></html>"""


def test_html_page_gives_title_description_language_and_both_texts():
    got = extract(page(f"<p>{ARTICLE}</p><p>{ARTICLE}</p>").encode(), "text/html", URL)
    assert got is not None
    assert got.title == "Morocco and Israel deepen ties"
    assert got.description == "Security partnership, five years on."
    assert got.language == "en"
    assert "joint action plan" in got.main_text
    assert "joint action plan" in got.full_text
    assert "do not index me" not in got.full_text
    assert "font-family" not in got.full_text


def test_main_text_keeps_the_article_and_drops_menus_and_footer():
    got = extract(page(f"<p>{ARTICLE}</p><p>{ARTICLE}</p>").encode(), "text/html", URL)
    assert "Tel Aviv" in got.main_text
    for boilerplate in ("Peace efforts", "Privacy policy", "Terms of use"):
        assert boilerplate not in got.main_text
        assert boilerplate in got.full_text
    # the disclosure line lives in the footer: the full text keeps it for search
    assert "on behalf of a foreign principal" in got.full_text


def test_outlinks_are_absolute_without_fragments_and_follow_base_href():
    got = extract(page(f"<p>{ARTICLE}</p><a href='mailto:x@y.test'>mail</a>"
                       "<a href='javascript:void(0)'>js</a><a href='#top'>top</a>").encode(),
                  "text/html", URL)
    assert got.outlinks[:4] == ("http://paxpoint.test/", "http://paxpoint.test/peace-efforts/",
                                "http://paxpoint.test/blog/", "http://sister.test/")
    assert "http://paxpoint.test/terms" in got.outlinks
    assert not any(link.startswith(("mailto:", "javascript:")) for link in got.outlinks)
    assert URL in got.outlinks  # "#top" is the page itself
    based = extract(page("<a href='more.html'>more</a>",
                         head="<base href='http://mirror.test/archive/'>").encode(),
                    "text/html", URL)
    assert "http://mirror.test/archive/more.html" in based.outlinks


@pytest.mark.parametrize("head, body, expected", [
    ('<meta property="article:published_time" content="2024-03-05T10:30:00+02:00">', "",
     datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    ("", '<p>Posted <time datetime="2023-11-02">2 Nov</time></p>',
     datetime(2023, 11, 2, tzinfo=UTC)),
    ('<script type="application/ld+json">{"@context": "https://schema.org", "@graph": '
     '[{"@type": "WebPage"}, {"@type": "NewsArticle", "datePublished": "2022-07-14T09:00:00Z"}]}'
     "</script>", "", datetime(2022, 7, 14, 9, 0, tzinfo=UTC)),
    ('<script type="application/ld+json">{broken json</script>'
     '<meta name="date" content="not a date">', "", None),
])
def test_published_date_from_meta_time_or_json_ld(head, body, expected):
    got = extract(page(f"<p>{ARTICLE}</p>{body}", head=head).encode(), "text/html", URL)
    assert got.published == expected


RUSSIAN = ("Министерство иностранных дел сообщило о новых переговорах между странами региона. "
           "Стороны обсудили вопросы безопасности, торговли и культурного сотрудничества. ") * 4
FRENCH = ("Les négociations entre les deux pays se poursuivent à Rabat. Les délégués ont évoqué "
          "la sécurité régionale, le commerce et la coopération culturelle. ") * 4


@pytest.mark.parametrize("text, encoding, header, meta", [
    (FRENCH, "utf-8", None, "utf-8"),
    (FRENCH, "utf-8", "iso-8859-1", "iso-8859-1"),  # labels lie, the bytes are UTF-8
    (FRENCH, "latin-1", "iso-8859-1", "iso-8859-1"),
    (FRENCH, "latin-1", "utf-8", "utf-8"),  # labelled UTF-8, really Latin-1
    (RUSSIAN, "windows-1251", None, "windows-1251"),
    (RUSSIAN, "windows-1251", "iso-8859-1", "iso-8859-1"),  # server default, wrong
    (RUSSIAN, "windows-1251", "utf-8", "utf-8"),
])
def test_charset_is_detected_even_when_labels_are_wrong(text, encoding, header, meta):
    html = page(f"<p>{text}</p>", lang="", charset=meta).encode(encoding)
    got = extract(html, "text/html; charset=whatever", URL, charset=header)
    assert text.split(".")[0] in got.main_text


def test_language_is_detected_when_the_page_does_not_declare_it():
    got = extract(page(f"<p>{RUSSIAN}</p>", lang="").encode(), "text/html", URL)
    assert got.language == "ru"
    declared = extract(page(f"<p>{FRENCH}</p>", lang="fr-CA").encode(), "text/html", URL)
    assert declared.language == "fr"


def test_plain_text_is_indexed_with_its_first_line_as_title():
    body = b"\n\n  Annual report 2024  \nThe network published twelve reports.\n"
    got = extract(body, "text/plain", "http://paxpoint.test/report.txt")
    assert got.title == "Annual report 2024"
    assert "twelve reports" in got.full_text == got.main_text
    assert got.outlinks == ()


@pytest.mark.parametrize("mime", ["image/png", "application/pdf", "text/css",
                                  "application/javascript", "", "application/octet-stream"])
def test_non_text_payloads_give_none(mime):
    assert extract(b"\x89PNG\r\n\x1a\n\x00\x00", mime, URL) is None


def test_garbage_input_never_raises():
    rng = random.Random(3)
    broken = [
        b"",
        b"<html><head><title>unclosed <b>title",
        b"<<<>>><a href='http://[::1'>bad ipv6</a><a href='http://x.test:99999/'>bad port</a>",
        b"<meta charset='no-such-charset'><p>text</p>",
        b"<html>" + b"<div>" * 5000 + b"deep",
        b"\xff\xfe\x00\x00garbage with a utf-32 looking bom",
        page(f"<p>{ARTICLE}</p>").encode()[:700],  # truncated mid-tag
        b'<time datetime="99999-99-99">x</time><meta name="date" content="0000-00-00">',
    ]
    broken += [rng.randbytes(rng.randint(1, 4000)) for _ in range(200)]
    for body in broken:
        for mime in ("text/html", "text/plain"):
            got = extract(body, mime, URL, charset=rng.choice([None, "utf-8", "bogus", "koi8-r"]))
            assert got is not None
            assert isinstance(got.full_text, str)
