"""What an interrupted crawl had done, read back from its own WARC files.

The WARCs are the record of truth: every URL with a response or revisit record is done, and
each document's metadata record lists the outlinks it had, so a resumed crawl knows what is
left without fetching anything again. A file left `.open` by a killed crawl is first cut back
to its last complete record and closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from crawler.links import Outlink
from crawler.warc_writer import OPEN_SUFFIX, repair_open_file


@dataclass(frozen=True)
class ParsedDocument:
    url: str
    hops: str
    site: str
    reason: str
    outlinks: tuple[Outlink, ...]


@dataclass
class ResumePlan:
    done: set[str] = field(default_factory=set)
    pages: set[str] = field(default_factory=set)  # done pages that count against site limits
    parsed: list[ParsedDocument] = field(default_factory=list)
    files: int = 0
    repaired_bytes: int = 0

    @classmethod
    def read(cls, crawl_dir: Path) -> ResumePlan:
        """Repair torn files in `crawl_dir`, then collect what its WARCs say was done."""
        plan = cls()
        for open_file in sorted(crawl_dir.glob("*.warc.gz" + OPEN_SUFFIX)):
            _closed, cut = repair_open_file(open_file)
            plan.repaired_bytes += cut
        for path in sorted(crawl_dir.glob("*.warc.gz")):
            plan.files += 1
            plan._read_file(path)
        return plan

    def _read_file(self, path: Path) -> None:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                kind = record.rec_type
                url = record.rec_headers.get_header("WARC-Target-URI")
                if kind in ("response", "revisit"):
                    self.done.add(url)
                elif kind == "metadata":
                    self._read_metadata(url, record.content_stream().read())

    def _read_metadata(self, url: str, body: bytes) -> None:
        fields: dict[str, str] = {}
        outlinks = []
        for line in body.decode("utf-8", "replace").splitlines():
            name, _, value = line.partition(": ")
            if name == "outlink":
                link, hop, context = (value.split(" ", 2) + ["", ""])[:3]
                outlinks.append(Outlink(link, hop, context))
            else:
                fields[name] = value
        hops = fields.get("hopsFromSeed", "-").replace("-", "")
        reason = fields.get("fetchReason", "")
        if reason in ("seed", "link", "sitemap") and not hops.endswith("P"):
            self.pages.add(url)
        self.parsed.append(ParsedDocument(url, hops, fields.get("site", ""), reason,
                                          tuple(outlinks)))
