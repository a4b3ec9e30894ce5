"""The record of what one indexing run did: `update()`, `add_warcs()` or `rebuild_fulltext()`
fill it in, the CLI prints it (`str()`) or its JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from index.warc_reader import Damage, Quirk


@dataclass
class IndexSummary:
    """What one `update()` did."""

    files: int = 0  # WARC files read
    records: int = 0  # WARC records read in them
    captures: int = 0  # captures added to the catalog
    revisits_resolved: int = 0
    revisits_unresolved: int = 0  # in the whole catalog, after this run
    renderings_examined: int = 0  # rendered-DOM records looked at to tie pages to them
    renderings_tied: int = 0  # browser captures tied to their rendered DOM
    texts: int = 0  # payloads whose text was extracted
    documents: int = 0  # new documents in the full-text index
    files_removed: int = 0  # catalogued files no longer in the collection
    damaged: list[Damage] = field(default_factory=list)
    warnings: list[Quirk] = field(default_factory=list)  # records read whole, but irregular
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {**{k: v for k, v in vars(self).items() if k not in ("damaged", "warnings")},
                "damaged": [{"file": d.file, "offset": d.offset, "what": d.what,
                             "resumed_at": d.resumed_at} for d in self.damaged],
                "warnings": [{"file": q.file, "offset": q.offset, "what": q.what}
                             for q in self.warnings]}

    def __str__(self) -> str:
        rate = self.captures / self.seconds if self.seconds else 0.0
        lines = [f"{self.files} WARC file{'' if self.files == 1 else 's'} read, "
                 f"{self.records} records, {self.captures} captures added in "
                 f"{self.seconds:.1f}s ({rate:.0f} captures/s)",
                 f"revisits: {self.revisits_resolved} resolved, {self.revisits_unresolved} "
                 "without their original in the collection",
                 *([f"rendered pages: {self.renderings_tied} tied to their DOM "
                    f"({self.renderings_examined} DOM records examined)"]
                   if self.renderings_examined else []),
                 f"full text: {self.texts} payloads extracted, {self.documents} new documents"]
        if self.files_removed:
            lines.append(f"{self.files_removed} WARC files gone from the collection: "
                         "their captures were dropped")
        if self.damaged:
            lines.append(f"{len(self.damaged)} damaged stretches skipped:")
            lines += [f"  {d}" for d in self.damaged]
        if self.warnings:
            lines.append(f"{len(self.warnings)} warnings (records read whole, but not as "
                         "the format says):")
            lines += [f"  {q}" for q in self.warnings]
        return "\n".join(lines)
