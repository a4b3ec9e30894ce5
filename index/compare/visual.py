"""How two full-page screenshots of a page differ: the share of pixels that differ, and an
overlay that highlights the regions where they do (the diff page's visual comparison and the
change report's visual sort).

Screenshots are archived content (a browser capture's `urn:fullPage:` resource records), so
the work is bounded: a PNG that says it holds more than MAX_DECODED_PIXELS is not decoded,
the compared area is the top MAX_HEIGHT x MAX_WIDTH pixels, and the overlay is scaled down to
OVERLAY_WIDTH. What a pair gave is kept in the collection's derived files, keyed by the two
screenshots' payload digests (a payload never changes): the share as JSON, the overlay as PNG.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, ImageChops, UnidentifiedImageError

from index.catalog import Capture
from index.collection import Collection
from index.errors import DamagedRecord
from index.warc_reader import read_payload

MAX_DECODED_PIXELS = 40_000_000  # ~160 MB decoded: a PNG claiming more is not opened
MAX_WIDTH, MAX_HEIGHT = 2000, 10_000  # the compared area, from the top left
OVERLAY_WIDTH = 800
# a pixel differs when its grey-level difference passes this (anti-aliasing stays below)
THRESHOLD = 24
CELL = 16  # the overlay marks differing pixels by squares of this side
_VERSION = "2"  # of the method: a change to it makes the kept answers stale
_DIR = "visual"


@dataclass(frozen=True)
class VisualDiff:
    """How two screenshots differ, over the area compared."""

    share: float  # of the compared pixels, those that differ (0 to 1)
    width: int  # the compared area: the larger screenshot, cut to MAX_WIDTH x MAX_HEIGHT
    height: int
    cut: bool  # a screenshot was larger than the compared area
    top: int | None = None  # the first row of pixels that differs (None: none does)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def visual_diff(collection: Collection, a: Capture, b: Capture) -> VisualDiff | None:
    """How the screenshot `b` differs from `a` (two resource captures), computed once per
    pair; None if either cannot be compared (not an image, damaged, too large)."""
    kept = _kept(collection, a, b, ".json")
    if kept is not None and kept.exists():
        return VisualDiff(**json.loads(kept.read_text(encoding="utf-8")))
    found = _compare(collection, a, b)
    if found is None:
        return None
    diff, overlay = found
    _keep(kept, json.dumps(diff.to_json()).encode(), collection)
    _keep(_kept(collection, a, b, ".png"), overlay, collection)
    return diff


def overlay_png(collection: Collection, a: Capture, b: Capture) -> bytes | None:
    """The newer screenshot, faded, with the regions that differ from the older one in red,
    at most OVERLAY_WIDTH wide, as PNG; None if the pair cannot be compared."""
    kept = _kept(collection, a, b, ".png")
    if kept is not None and kept.exists():
        return kept.read_bytes()
    found = _compare(collection, a, b)
    if found is None:
        return None
    diff, overlay = found
    _keep(kept, overlay, collection)
    _keep(_kept(collection, a, b, ".json"), json.dumps(diff.to_json()).encode(), collection)
    return overlay


def _compare(collection: Collection, a: Capture, b: Capture
             ) -> tuple[VisualDiff, bytes] | None:
    old, new = _image(collection, a), _image(collection, b)
    if old is None or new is None:
        return None
    width = min(max(old.width, new.width), MAX_WIDTH)
    height = min(max(old.height, new.height), MAX_HEIGHT)
    cut = max(old.width, new.width) > MAX_WIDTH or max(old.height, new.height) > MAX_HEIGHT
    # where one screenshot has no pixels (a page grown longer), everything differs
    shared = (0, 0, min(old.width, new.width, width), min(old.height, new.height, height))
    mask = Image.new("L", (width, height), 255)
    grey = ImageChops.difference(old.crop(shared), new.crop(shared)).convert("L")
    mask.paste(grey.point(lambda v: 255 if v > THRESHOLD else 0), shared)
    new = new.crop((0, 0, width, height))  # padded with black where it is smaller
    differing = mask.histogram()[255]
    box = mask.getbbox()  # of the non-zero (differing) pixels
    diff = VisualDiff(round(differing / (width * height), 6), width, height, cut,
                      box[1] if box else None)
    return diff, _overlay(new, mask)


def _image(collection: Collection, capture: Capture) -> Image.Image | None:
    if not capture.has_payload:
        return None
    try:
        _head, body = read_payload(collection.inside(capture.payload_file),
                                   capture.payload_offset, capture.payload_length)
        image = Image.open(io.BytesIO(body))
        if image.width * image.height > MAX_DECODED_PIXELS:
            return None
        image = image.convert("RGB")
    except (DamagedRecord, UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return None
    return image


def _overlay(new: Image.Image, mask: Image.Image) -> bytes:
    faded = Image.blend(new, Image.new("RGB", new.size, "white"), 0.6)
    # each CELL x CELL square with any differing pixel is a region that differs
    cells = mask.resize((max(1, -(-mask.width // CELL)), max(1, -(-mask.height // CELL))),
                        Image.Resampling.BOX).point(lambda v: 255 if v else 0)
    regions = cells.resize((cells.width * CELL, cells.height * CELL), Image.Resampling.NEAREST
                           ).crop((0, 0, mask.width, mask.height))
    red = Image.new("RGB", new.size, (220, 20, 60))
    marked = Image.composite(Image.blend(faded, red, 0.55), faded, regions)
    if marked.width > OVERLAY_WIDTH:
        marked = marked.resize((OVERLAY_WIDTH, max(1, marked.height * OVERLAY_WIDTH
                                                   // marked.width)), Image.Resampling.BOX)
    out = io.BytesIO()
    marked.save(out, "PNG", optimize=False)
    return out.getvalue()


def _kept(collection: Collection, a: Capture, b: Capture, suffix: str) -> Path | None:
    if not (a.digest and b.digest):
        return None
    key = hashlib.sha1(f"{_VERSION} {a.digest} {b.digest}".encode()).hexdigest()
    return collection.derived_dir / _DIR / f"{key}{suffix}"


def _keep(path: Path | None, data: bytes, collection: Collection) -> None:
    """Write `data` to `path` whole or not at all (readers may look at the same time)."""
    if path is None or not collection.derived_dir.is_dir():
        return
    path.parent.mkdir(exist_ok=True)
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_bytes(data)
    partial.replace(path)
