"""Binary requisites and documents of the sample network, generated rather than copied.

Images are PNGs whose pixels are a colour ramp plus seeded noise: the noise keeps them from
compressing to nothing, so they weigh what real photographs of that size weigh (tens of KB).
Everything is a pure function of its arguments, so every revision serves the same bytes.
"""

from __future__ import annotations

import random
import struct
import zlib
from functools import cache

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Low bits of each channel that carry noise: 5 of 8 lands photos of a few hundred pixels a
# side in the 20-60 KB range that real article images weigh.
_NOISE_BITS = 5


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


@cache
def png(seed: str, width: int, height: int, colour: str = "#406080") -> bytes:
    """An RGB PNG of `width` x `height`: a vertical ramp from `colour`, with noise seeded by
    `seed`. The same arguments always give the same bytes."""
    rng = random.Random(seed)
    base = _rgb(colour)
    mask = (1 << _NOISE_BITS) - 1
    noise = rng.randbytes(width * height * 3)
    rows = bytearray()
    stride = width * 3
    for y in range(height):
        # One translation table per channel and row turns raw noise into ramp + noise
        # without a Python-level loop over pixels.
        shade = (y * 96) // max(height - 1, 1)
        row = bytearray(stride)
        chunk = noise[y * stride : (y + 1) * stride]
        for channel in range(3):
            level = min(base[channel] + shade, 255 - mask)
            table = bytes((level + (b & mask)) for b in range(256))
            row[channel::3] = chunk[channel::3].translate(table)
        rows += b"\x00" + row  # filter type 0 (None) for every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + _chunk(b"IEND", b"")
    )


def ico(seed: str, colour: str) -> bytes:
    """A favicon: an ICO file holding one 32 x 32 PNG."""
    image = png(seed, 32, 32, colour)
    return struct.pack("<3H4B2H2I", 0, 1, 1, 32, 32, 0, 0, 1, 24, len(image), 22) + image


def _pdf_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf(title: str, lines: tuple[str, ...]) -> bytes:
    """A one-page PDF showing `lines` in Helvetica, with `title` in its document info.

    Written by hand, with a correct cross-reference table, so that PDF readers and
    text extractors accept it."""
    text_ops = ["BT", "/F1 16 Tf", "72 760 Td", "20 TL"]
    for index, line in enumerate(lines):
        if index == 1:
            text_ops.append("/F1 11 Tf")
        text_ops.append(f"({_pdf_text(line)}) Tj T*")
    text_ops.append("ET")
    stream = "\n".join(text_ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        f"<< /Title ({_pdf_text(title)}) /Producer (Palimpsest sample network) >>".encode(
            "latin-1"
        ),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (
        len(objects) + 1,
        len(objects),
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)
