"""Pages in the encodings browsers sniff keep their title and text, labelled or not, and even
when labelled wrongly: UTF-16 without a byte order mark, the East Asian multi-byte encodings,
the Cyrillic code pages."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.links import html_outlinks
from index.extract import decode, extract
from palimpsest.cli import main

URL = "http://harbour.test/news/report.html"

ENGLISH = ("The harbourmaster reopened the northern quay on Monday after three weeks of repairs. "
           "Ferries to the islands resume their summer timetable at once.")
JAPANESE = ("東京で開かれた会議で、両国の代表は安全保障と貿易について話し合った。"
            "文化交流の拡大についても合意された。")
CHINESE = "两国代表在北京举行会谈，讨论了安全、贸易和文化合作等问题。双方同意进一步扩大交流。"
TAIWANESE = "兩國代表在台北舉行會談，討論了安全、貿易和文化合作等問題。雙方同意進一步擴大交流。"
KOREAN = ("양국 대표는 서울에서 회담을 열고 안보와 무역 문제를 논의했다. "
          "문화 교류 확대에도 합의했다.")
RUSSIAN = ("Переговоры между двумя странами продолжаются в Москве. Стороны обсудили вопросы "
           "безопасности, торговли и культурного сотрудничества.")
FRENCH = ("Les négociations entre les deux pays se poursuivent à Rabat. Les délégués ont évoqué "
          "la sécurité régionale, le commerce et la coopération culturelle.")

TITLES = {ENGLISH: "Harbourmaster reopens the northern quay", JAPANESE: "東京会議の報告",
          CHINESE: "北京会谈纪要", TAIWANESE: "台北會談紀要", KOREAN: "서울 회담 보고",
          RUSSIAN: "Переговоры в Москве", FRENCH: "Négociations à Rabat"}


def page(text: str, head: str = "") -> str:
    """An HTML page about `text`, titled by TITLES, with `head` (e.g. a <meta charset>)."""
    title = TITLES[text]
    return f"""<!DOCTYPE html>
<html><head>{head}<title>{title}</title>
<style>body {{ font-family: serif; }}</style></head>
<body><nav><a href="/">Home</a> <a href="/news/">News</a></nav>
<main><article><h1>{title}</h1><p>{text}</p><p>{text}</p></article></main>
<footer><a href="http://sister.test/about">About us</a></footer></body></html>"""


def assert_reads(body: bytes, text: str, charset: str | None = None,
                 mime: str = "text/html") -> None:
    got = extract(body, mime, URL, charset=charset)
    assert got.title == TITLES[text]
    assert text in got.main_text
    assert "\x00" not in got.full_text


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("text", [ENGLISH, JAPANESE, RUSSIAN], ids=["en", "ja", "ru"])
def test_utf16_without_bom_or_label_keeps_title_and_text(text, encoding):
    assert_reads(page(text).encode(encoding), text)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("header", [None, "utf-16", "iso-8859-1", "utf-8"])
def test_utf16_body_is_read_as_utf16_whatever_its_labels_say(encoding, header):
    # a <meta> naming UTF-16 means UTF-8 to WHATWG, and a big-endian body labelled "utf-16"
    # is not little-endian: the bytes decide
    body = page(ENGLISH, head='<meta charset="utf-16">').encode(encoding)
    assert_reads(body, ENGLISH, charset=header)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_plain_text_without_bom_gives_its_first_line_as_title(encoding):
    body = f"Harbour notice\n{ENGLISH}\n".encode(encoding)
    got = extract(body, "text/plain", URL)
    assert got.title == "Harbour notice"
    assert ENGLISH in got.full_text


@pytest.mark.parametrize("text, encoding", [
    (JAPANESE, "shift_jis"), (JAPANESE, "euc-jp"), (JAPANESE, "iso-2022-jp"),
    (CHINESE, "gb18030"), (TAIWANESE, "big5"), (KOREAN, "euc-kr"),
    (RUSSIAN, "windows-1251"), (RUSSIAN, "koi8-r"), (FRENCH, "windows-1252"),
], ids=lambda value: value if len(value) < 20 else "")
def test_undeclared_encoding_is_sniffed(text, encoding):
    assert_reads(page(text).encode(encoding), text)


@pytest.mark.parametrize("text, encoding, header, meta", [
    (JAPANESE, "shift_jis", None, "iso-8859-5"),  # a single-byte label on multi-byte text
    (JAPANESE, "shift_jis", "koi8-r", None),
    (CHINESE, "gb18030", "iso-8859-1", None),  # the server's default label
    (KOREAN, "euc-kr", "utf-8", "utf-8"),
    (RUSSIAN, "windows-1251", "shift_jis", None),  # the bytes are not valid Shift_JIS
    (FRENCH, "windows-1252", None, "utf-16"),  # WHATWG: a <meta> naming UTF-16 means UTF-8
    (FRENCH, "windows-1252", "utf-16", None),
    (JAPANESE, "iso-2022-jp", None, "utf-8"),  # 7-bit, so valid UTF-8 too
], ids=lambda value: value if value is None or len(value) < 20 else "")
def test_wrong_declared_charset_gives_way_to_the_bytes(text, encoding, header, meta):
    head = f'<meta charset="{meta}">' if meta else ""
    body = page(text, head).encode(encoding)
    # at an even length any ASCII decodes as UTF-16 without an error: only its NULs tell
    body += b"\n" * (len(body) % 2)
    assert_reads(body, text, charset=header)


def test_utf8_page_with_a_stray_escape_byte_stays_utf8():
    body = page(RUSSIAN, head="<script>var bell = '\x1b$';</script>").encode()
    assert_reads(body, RUSSIAN, charset="iso-8859-1")


@pytest.mark.parametrize("label", ["latin1", "iso-8859-1", "ascii", "us-ascii", "windows-1252"])
def test_western_labels_mean_windows_1252(label):
    text = "“Quotes” and the € sign, in windows-1252 only"
    assert decode(text.encode("windows-1252"), label) == text


def test_korean_is_decoded_as_windows_949_the_superset_browsers_use():
    # 똠 is outside strict EUC-KR (KS X 1001) but in the UHC extension WHATWG decodes
    text = KOREAN + " 똠방각하"
    assert decode(text.encode("cp949"), "euc-kr") == text


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("header", [None, "utf-16", "iso-8859-1"])
def test_crawler_finds_the_links_of_a_utf16_page(encoding, header):
    body = page(ENGLISH, head='<meta charset="utf-16">').encode(encoding)
    links = [link.url for link in html_outlinks(body, URL, header)]
    assert links == ["http://harbour.test/", "http://harbour.test/news/",
                     "http://sister.test/about"]


def _warc(path: Path, responses: dict[str, tuple[bytes, str]]) -> Path:
    """A WARC of one response record per URL: (body, Content-Type) as the server sent them."""
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for url, (body, content_type) in responses.items():
            headers = StatusAndHeaders("200 OK", [("Content-Type", content_type),
                                                  ("Content-Length", str(len(body)))],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response",
                                                          payload=io.BytesIO(body),
                                                          http_headers=headers))
    return path


def test_utf16_and_sniffed_pages_added_from_a_warc_are_found_by_their_title(tmp_path, capsys):
    warc = _warc(tmp_path / "encodings.warc.gz", {
        "http://harbour.test/le.html": (page(ENGLISH).encode("utf-16-le"), "text/html"),
        "http://harbour.test/be.html": (page(ENGLISH).encode("utf-16-be"),
                                        "text/html; charset=utf-16"),
        "http://harbour.test/ru.html": (page(RUSSIAN).encode("windows-1251"),
                                        "text/html; charset=iso-8859-1"),
    })
    collection = str(tmp_path / "collection")
    assert main(["add", "--collection", collection, str(warc)]) == 0
    capsys.readouterr()
    assert main(["search", "--collection", collection, "harbourmaster", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert sorted(r["url"] for r in found["results"]) == ["http://harbour.test/be.html",
                                                          "http://harbour.test/le.html"]
    assert {r["title"] for r in found["results"]} == {TITLES[ENGLISH]}
    assert main(["search", "--collection", collection, "Москве", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [r["title"] for r in found["results"]] == [TITLES[RUSSIAN]]


@pytest.mark.parametrize(("encoding", "text"), [("iso-8859-2", "Žluťoučký kůň"),
                                                ("shift_jis", "日本語の記事"),
                                                ("euc-kr", "한국어 기사")])
def test_replay_decodes_a_page_by_its_meta_label_as_the_indexer_does(tmp_path, encoding, text):
    from index.catalog import captures_of
    from index.collection import Collection
    from web import create_app

    url = f"http://meta-{encoding}.test/"
    body = (f'<html><head><meta charset="{encoding}"><title>t</title></head>'
            f'<body><p>{text}</p></body></html>').encode(encoding)
    assert main(["add", "--collection", str(tmp_path / "c"),
                 str(_warc(tmp_path / "meta.warc.gz", {url: (body, "text/html")}))]) == 0
    collection = Collection(tmp_path / "c")
    capture = captures_of(collection, url)[0]
    client = create_app({"COLLECTION": str(collection.root)}).test_client()
    replayed = client.get(f"/web/{capture.timestamp}mp_/{url}")
    assert replayed.status_code == 200
    assert text in replayed.get_data(as_text=True)
