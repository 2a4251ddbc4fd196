"""QR codes of redemption codes, for the PDF (drawn as vector rectangles) and for web pages
(inline SVG), from one encoder: reportlab's own (no extra dependency, nothing downloaded).

A paper print of 1000 tickets needs 1000 QR codes. reportlab's `QRCode.make()` tries all eight
mask patterns and scores each (about 4.5 ms a code, 4.5 s for 1000); we build the symbol with one
fixed mask instead (about 0.5 ms). Any of the eight masks is a valid QR code — the mask number is
written in the symbol's format information and every reader undoes it — the scoring only picks
the one with the fewest look-alike patterns, which matters little for a 21×21 symbol printed
large. Error correction level M (15 %) survives a smudge on paper.
"""

from __future__ import annotations

from markupsafe import Markup
from reportlab.graphics.barcode import qrencoder

MASK_PATTERN = 2
QUIET_ZONE = 4  # modules of white around the symbol, as the standard asks


def matrix(text: str) -> tuple[tuple[bool, ...], ...]:
    """The dark (True) and light modules of the QR code of `text`, row by row, top first."""
    if not text:
        raise ValueError("a QR code needs some text")
    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(text)
    qr.version = qr.calculate_version()
    qr.makeImpl(False, MASK_PATTERN)
    return tuple(tuple(bool(m) for m in row) for row in qr.modules)


def dark_runs(modules: tuple[tuple[bool, ...], ...]) -> list[tuple[int, int, int]]:
    """(row, first column, length) of each horizontal run of dark modules: what to fill."""
    runs = []
    for r, row in enumerate(modules):
        start = -1
        for c, dark in enumerate(row):
            if dark and start < 0:
                start = c
            elif not dark and start >= 0:
                runs.append((r, start, c - start))
                start = -1
        if start >= 0:
            runs.append((r, start, len(row) - start))
    return runs


def svg(text: str, *, size_px: int = 180, label: str = "QR code") -> Markup:
    """An inline SVG of the QR code of `text` (one path; scales without blurring)."""
    modules = matrix(text)
    total = len(modules) + 2 * QUIET_ZONE
    path = "".join(f"M{c + QUIET_ZONE} {r + QUIET_ZONE}h{n}v1h-{n}z" for r, c, n in dark_runs(modules))
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total} {total}" width="{size_px}" '
        f'height="{size_px}" role="img" aria-label="{Markup.escape(label)}" '
        f'shape-rendering="crispEdges"><rect width="{total}" height="{total}" fill="#fff"/>'
        f'<path d="{path}" fill="#000"/></svg>')
