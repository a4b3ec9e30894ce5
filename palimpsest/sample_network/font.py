"""A small but valid WOFF2 web font, generated: the sample network's /assets/fonts/body.woff2.

The font holds a few hundred seeded polygon glyphs mapped to Private Use Area code points, so
it weighs what a real subset web font weighs while never changing how text looks: browsers
load it without complaint and draw every real character from the next font in the stack.
The WOFF2 wrapper stores its tables untransformed inside brotli "uncompressed" meta-blocks,
which needs no brotli library to write and any WOFF2 decoder can read.
"""

from __future__ import annotations

import random
import struct
from functools import cache

_UNITS = 1000
_FIRST_CODE = 0xE000  # Private Use Area: no real text ever uses these code points
# WOFF2's table directory names common tables by index into this list.
_KNOWN_TAGS = (b"cmap", b"head", b"hhea", b"hmtx", b"maxp", b"name", b"OS/2", b"post",
               b"cvt ", b"fpgm", b"glyf", b"loca")


def _glyph(rng: random.Random, points: int) -> tuple[bytes, tuple[int, int, int, int]]:
    """One simple glyph: a single closed polygon of `points` on-curve points."""
    xs = [rng.randrange(40, 560) for _ in range(points)]
    ys = [rng.randrange(-150, 750) for _ in range(points)]
    box = (min(xs), min(ys), max(xs), max(ys))
    data = struct.pack(">h4h", 1, *box) + struct.pack(">HH", points - 1, 0)
    data += bytes([0x01] * points)  # on curve; coordinates as signed 16-bit deltas
    for values in (xs, ys):
        previous = 0
        for value in values:
            data += struct.pack(">h", value - previous)
            previous = value
    return data + b"\x00" * (len(data) % 2), box


def _name_table(family: str) -> bytes:
    names = {1: family, 2: "Regular", 3: f"{family.replace(' ', '')}-Regular-1.000",
             4: f"{family} Regular", 5: "Version 1.000", 6: f"{family.replace(' ', '')}-Regular"}
    records, strings = b"", b""
    for name_id, text in names.items():
        encoded = text.encode("utf-16-be")
        records += struct.pack(">6H", 3, 1, 0x409, name_id, len(encoded), len(strings))
        strings += encoded
    return struct.pack(">3H", 0, len(names), 6 + 12 * len(names)) + records + strings


def _cmap_table(count: int) -> bytes:
    # Format 4 with one segment mapping count code points from _FIRST_CODE to glyphs 1..count,
    # and the obligatory final segment for 0xFFFF.
    ends, starts = (_FIRST_CODE + count - 1, 0xFFFF), (_FIRST_CODE, 0xFFFF)
    deltas = ((1 - _FIRST_CODE) % 0x10000, 1)
    body = struct.pack(">2H", *ends) + b"\x00\x00" + struct.pack(">2H", *starts)
    body += struct.pack(">2H", *deltas) + struct.pack(">2H", 0, 0)
    subtable = struct.pack(">7H", 4, 14 + len(body), 0, 4, 4, 1, 0) + body
    return struct.pack(">2H", 0, 1) + struct.pack(">2HI", 3, 1, 12) + subtable


def _tables(seed: str, count: int, family: str) -> dict[bytes, bytes]:
    rng = random.Random(seed)
    glyphs = [_glyph(rng, 4)] + [_glyph(rng, rng.randrange(12, 28)) for _ in range(count)]
    glyf, offsets = b"", [0]
    for data, _ in glyphs:
        glyf += data
        offsets.append(len(glyf))
    boxes = [box for _, box in glyphs]
    box = (min(b[0] for b in boxes), min(b[1] for b in boxes),
           max(b[2] for b in boxes), max(b[3] for b in boxes))
    points = max((len(data) - 14) // 5 for data, _ in glyphs)
    total = len(glyphs)
    head = struct.pack(">2IIIHHqq4hHhhhh", 0x00010000, 0x00010000, 0, 0x5F0F3CF5, 0x080B,
                       _UNITS, 0, 0, *box, 0, 8, 2, 1, 0)
    hhea = struct.pack(">I3hH3h3h4hhH", 0x00010000, 800, -200, 0, 600, box[0], 600 - box[2],
                       box[2], 1, 0, 0, 0, 0, 0, 0, 0, total)
    maxp = struct.pack(">I14H", 0x00010000, total, points, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0,
                       0, 0)
    os2 = struct.pack(">Hh2Hh11h10s4I4s3H3h2H2I2h3H", 4, 600, 400, 5, 0, 650, 600, 0, 75,
                      650, 600, 0, 350, 50, 300, 0, bytes(10), 0, 0, 0, 0, b"PLMP", 0x40,
                      _FIRST_CODE, _FIRST_CODE + count - 1, 800, -200, 0, 950, 250, 1, 0,
                      500, 700, 0, 32, 0)
    post = struct.pack(">IIhhIIIII", 0x00030000, 0, -100, 50, 0, 0, 0, 0, 0)
    return {
        b"OS/2": os2,
        b"cmap": _cmap_table(count),
        b"glyf": glyf,
        b"head": head,
        b"hhea": hhea,
        b"hmtx": b"".join(struct.pack(">Hh", 600, b[0]) for b in boxes),
        b"loca": b"".join(struct.pack(">I", o) for o in offsets),
        b"maxp": maxp,
        b"name": _name_table(family),
        b"post": post,
    }


def _base128(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _brotli_stored(data: bytes) -> bytes:
    """`data` as a valid brotli stream made only of uncompressed meta-blocks (RFC 7932)."""
    out = bytearray()
    bits, count = 0, 1  # the stream header: one 0 bit, for a 64 KiB window
    for start in range(0, len(data), 65536):
        chunk = data[start : start + 65536]
        # ISLAST=0, MNIBBLES=4 (coded 0), MLEN-1 in 16 bits, ISUNCOMPRESSED=1
        bits |= ((len(chunk) - 1) << 3 | 1 << 19) << count
        count += 20
        out += (bits & ((1 << count) - 1)).to_bytes((count + 7) // 8, "little")
        out += chunk
        bits, count = 0, 0
    out += bytes([0b11])  # ISLAST=1, ISLASTEMPTY=1
    return bytes(out)


@cache
def woff2(seed: str, glyphs: int = 260, family: str = "Body Sans") -> bytes:
    """A WOFF2 font of `glyphs` seeded glyphs (about 90 bytes each); same seed, same bytes."""
    tables = _tables(seed, glyphs, family)
    sfnt_size = 12 + 16 * len(tables) + sum((len(t) + 3) & ~3 for t in tables.values())
    directory = b""
    for tag, data in tables.items():
        index = _KNOWN_TAGS.index(tag)
        # glyf and loca need transform version 3 to say "stored as is"; others 0.
        flags = index | (0xC0 if tag in (b"glyf", b"loca") else 0)
        directory += bytes([flags]) + _base128(len(data))
    compressed = _brotli_stored(b"".join(tables.values()))
    length = 48 + len(directory) + len(compressed)
    padded = (length + 3) & ~3
    header = struct.pack(">4sIIHHIIHHIIIII", b"wOF2", 0x00010000, padded, len(tables), 0,
                         sfnt_size, len(compressed), 1, 0, 0, 0, 0, 0, 0)
    return header + directory + compressed + b"\x00" * (padded - length)
