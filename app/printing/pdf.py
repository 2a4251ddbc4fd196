"""Print-ready PDFs of paper tickets (docs/consumers.md): one ticket per A6 page (105 × 148 mm), with
the issuer's logo and name, product, face value, the redemption code as QR and as text, serial,
validity, customer-service info, usage notes and the rights statement (pickup vouchers).

Fast enough for a 1000-ticket batch (about 1.5 s for 1000 pages on an idle core): the CJK font
is registered once per process; everything a page shares with the other pages of its layout
(store, product, batch: header, logo, texts, rights statement) is drawn once into a form XObject
that each page reuses, so a page adds only its QR code (one path of rectangles, see
`app.printing.qr`), its code, its serial and, if it is no longer usable, its status.

Text: Traditional Chinese in a TrueType CJK font when one is installed (Debian's
fonts-arphic-uming), else reportlab's built-in CID font MSung-Light (Traditional Chinese, needs
no file). Serials and codes are set in the standard Helvetica / Courier fonts, so `pdftotext`
(and a search in any viewer) finds them whatever CJK font was used.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from PIL import Image
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import CIDFont, UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from app.issuance.presentation import TicketFace
from app.printing import qr
from app.tickets.status import TicketStatus
from app.web import format_money

PAGE_W, PAGE_H = A6
MARGIN = 7 * mm
CONTENT_W = PAGE_W - 2 * MARGIN
QR_SIZE = 34 * mm
LOGO_H = 12 * mm
LOGO_MAX_W = 30 * mm
LOGO_MAX_PX = 360  # logos are scaled down to this before embedding (sharp at 300 dpi for 30 mm)

TTF_CANDIDATES = (
    (Path("/usr/share/fonts/truetype/arphic/uming.ttc"), 0),
    (Path("/usr/share/fonts/truetype/arphic/ukai.ttc"), 0),
)
CID_FALLBACK = "MSung-Light"
LATIN = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
MONO = "Courier-Bold"

GREY = colors.Color(0.38, 0.38, 0.38)
LIGHT = colors.Color(0.82, 0.82, 0.82)
RED = colors.Color(0.78, 0.1, 0.1)

SAMPLE_WATERMARK = "測試列印 SAMPLE — 不可使用"

# Binary (zlib only) content streams: ASCII85 on top makes files 25 % larger and costs as much
# time as drawing the pages. Process-wide; nothing else here writes PDFs.
rl_config.useA85 = 0

_font_lock = threading.Lock()
_fonts: dict[tuple, str] = {}


def cjk_font(candidates: Sequence[tuple[Path, int]] | None = None) -> str:
    """The registered name of the CJK font to use: the first installed TrueType candidate
    (default `TTF_CANDIDATES`), else the built-in CID font. Registered once per process (the
    TTC takes ~0.2 s to read)."""
    key = tuple(TTF_CANDIDATES if candidates is None else candidates)
    with _font_lock:
        name = _fonts.get(key)
        if name is None:
            name = _register(key)
            _fonts[key] = name
        return name


def _register(candidates: Sequence[tuple[Path, int]]) -> str:
    # Ask the registry by name: `pdfmetrics.getFont` of an unknown name first parses every AFM
    # file reportlab ships looking for it (about 0.7 s).
    registered = set(pdfmetrics.getRegisteredFontNames())
    for path, index in candidates:
        if not path.is_file():
            continue
        name = f"ectix-cjk-{path.stem}-{index}"
        if name not in registered:
            try:
                pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=index))
            except Exception:  # noqa: BLE001 - a broken or unsupported font file: try the next
                continue
        return name
    if CID_FALLBACK not in registered:
        pdfmetrics.registerFont(_TraditionalChineseCID())
    return CID_FALLBACK


class _TraditionalChineseCID(UnicodeCIDFont):
    """MSung-Light with the Traditional Chinese Unicode CMap. reportlab pairs it with
    `UniGB-UCS2-H`, a CMap of the Simplified Chinese collection that Adobe-CNS1 fonts lack, so
    viewers (poppler, Acrobat) draw nothing; `UniCNS-UCS2-H` is the right one."""

    def __init__(self) -> None:
        super().__init__(CID_FALLBACK)
        CIDFont.__init__(self, CID_FALLBACK, "UniCNS-UCS2-H")
        self.name = self.fontName = CID_FALLBACK


# Laying out text -----------------------------------------------------------------------------

_NO_LINE_START = frozenset("，。、；：！？）」』】〉》,.;:!?)]}")  # kept on the line before
_TOKENS = re.compile(r"[A-Za-z0-9@._:/\-+#%&=?~]+|\s+|.", re.DOTALL)


@lru_cache(maxsize=256)
def wrap(text: str, font: str, size: float, width: float, max_lines: int) -> tuple[str, ...]:
    """`text` broken into lines no wider than `width`: between any two CJK characters, between
    Latin words, never before closing punctuation (which may overhang the line by a character);
    paragraphs kept; cut to `max_lines` with an ellipsis."""
    lines: list[str] = []
    for paragraph in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line, line_w = "", 0.0
        for token in _TOKENS.findall(paragraph):
            token_w = pdfmetrics.stringWidth(token, font, size)
            if line and line_w + token_w > width and token not in _NO_LINE_START:
                lines.append(line.rstrip())
                line, line_w = "", 0.0
                if token.isspace():
                    continue
            while token_w > width and len(token) > 1:  # a word longer than the line
                cut = len(token)
                while cut > 1 and pdfmetrics.stringWidth(token[:cut], font, size) > width:
                    cut -= 1
                lines.append(token[:cut])
                token = token[cut:]
                token_w = pdfmetrics.stringWidth(token, font, size)
            line += token
            line_w += token_w
        lines.append(line.rstrip())
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and pdfmetrics.stringWidth(last + "…", font, size) > width:
            last = last[:-1]
        lines[-1] = last + "…"
    return tuple(lines)


def _fit(text: str, font: str, size: float, width: float) -> str:
    """One line: `text` cut with an ellipsis if wider than `width`."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    return wrap(text, font, size, width, 1)[0]


# Logos -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Logo:
    reader: ImageReader
    width: float
    height: float


def load_logo(path: Path) -> Logo | None:
    """A logo ready to embed (scaled down, flattened onto white), or None if unreadable."""
    try:
        with Image.open(path) as image:
            image.load()
            image.thumbnail((LOGO_MAX_PX, LOGO_MAX_PX))
            if image.mode in ("RGBA", "LA", "P"):
                rgba = image.convert("RGBA")
                flat = Image.new("RGB", rgba.size, (255, 255, 255))
                flat.paste(rgba, mask=rgba.getchannel("A"))
                image = flat
            elif image.mode != "RGB":
                image = image.convert("RGB")
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            size = image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    scale = min(LOGO_MAX_W / size[0], LOGO_H / size[1])
    return Logo(ImageReader(io.BytesIO(buffer.getvalue())), size[0] * scale, size[1] * scale)


# Pages -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Footer:
    """The small print at the bottom of every page (when and in which run it was printed)."""

    text: str = ""


@dataclass(frozen=True)
class _Slots:
    """Where a layout puts what differs from ticket to ticket."""

    name: str  # the form XObject holding everything else
    qr: tuple[float, float, float]  # x, y (bottom left), size
    code: tuple[float, float, float]  # x, baseline, font size
    serial: tuple[float, float]
    status: tuple[float, float, float]  # x, baseline, width


def _layout_key(face: TicketFace) -> TicketFace:
    """The face without what differs per ticket: pages with equal keys share one form."""
    return replace(face, ticket_id=0, serial="", code="", code_display="",
                   status=TicketStatus.UNUSED, status_label="", usable=True)


class _Document:
    """One PDF being written. Each distinct layout (store, product, batch: everything on the
    page but the serial, the code and the status) is drawn once as a form XObject; a page is
    that form plus its QR code, code, serial and, for a ticket no longer usable, its status."""

    def __init__(self, logos: Mapping[int, Path], footer: Footer, sample: bool) -> None:
        self.buffer = io.BytesIO()
        self.canvas = Canvas(self.buffer, pagesize=A6, pageCompression=1, invariant=0)
        self.canvas.setTitle("紙本票券測試列印" if sample else "紙本票券")
        self.canvas.setCreator("ectix")
        self.cjk = cjk_font()
        self.footer = footer
        self.sample = sample
        self.logo_paths = logos
        self.logos: dict[int, Logo | None] = {}
        self.layouts: dict[TicketFace, _Slots] = {}
        self.qr_grids: dict[tuple, tuple[list[str], list[str], list[str]]] = {}

    def logo(self, upload_id: int | None) -> Logo | None:
        if upload_id is None or upload_id not in self.logo_paths:
            return None
        if upload_id not in self.logos:
            self.logos[upload_id] = load_logo(self.logo_paths[upload_id])
        return self.logos[upload_id]

    def text(self, x: float, y: float, value: str, size: float, *, font: str | None = None,
             color: colors.Color = colors.black, right: bool = False, centre: bool = False) -> None:
        c = self.canvas
        c.setFont(font or self.cjk, size)
        c.setFillColor(color)
        if right:
            c.drawRightString(x, y, value)
        elif centre:
            c.drawCentredString(x, y, value)
        else:
            c.drawString(x, y, value)

    def lines(self, x: float, y: float, values: Sequence[str], size: float, *,
              leading: float | None = None, color: colors.Color = colors.black) -> float:
        """Draw lines downwards from baseline `y`; the baseline after the last line."""
        step = leading or size * 1.3
        for value in values:
            self.text(x, y, value, size, color=color)
            y -= step
        return y

    def page(self, face: TicketFace) -> None:
        key = _layout_key(face)
        slots = self.layouts.get(key)
        if slots is None:
            name = f"layout{len(self.layouts)}"
            self.canvas.beginForm(name, 0, 0, PAGE_W, PAGE_H)
            slots = self._draw_layout(face, name)
            self.canvas.endForm()
            self.layouts[key] = slots
        c = self.canvas
        c.doForm(slots.name)
        self._qr(face.code, *slots.qr)
        x, y, size = slots.code
        self.text(x, y, face.code_display, size, font=MONO)
        self.text(*slots.serial, face.serial, 9, font=LATIN)
        if not face.usable and not self.sample:
            x, y, width = slots.status
            self.lines(x, y, wrap(f"{face.status_label}（不可使用）", self.cjk, 8.5, width, 2), 8.5,
                       color=RED)
        if self.sample:
            self._watermark()
        c.showPage()

    def _draw_layout(self, face: TicketFace, name: str) -> _Slots:
        c, cjk = self.canvas, self.cjk
        left, right, top = MARGIN, PAGE_W - MARGIN, PAGE_H - MARGIN

        # header: logo, issuer, kind
        y = top - LOGO_H
        logo = self.logo(face.logo_upload_id)
        name_x = left
        if logo is not None:
            c.drawImage(logo.reader, left, y + (LOGO_H - logo.height) / 2, logo.width, logo.height)
            name_x = left + logo.width + 3 * mm
        tag_w = pdfmetrics.stringWidth(face.kind_label, cjk, 8) + 4 * mm
        c.setFillColor(colors.black)
        c.roundRect(right - tag_w, top - 6 * mm, tag_w, 5.5 * mm, 1.2 * mm, stroke=0, fill=1)
        self.text(right - tag_w / 2, top - 4.6 * mm, face.kind_label, 8, color=colors.white,
                  centre=True)
        issuer_w = right - tag_w - 2 * mm - name_x
        self.lines(name_x, top - 4.6 * mm, wrap(face.issuer_name, cjk, 9, issuer_w, 2), 9, leading=11)
        c.setStrokeColor(LIGHT)
        c.setLineWidth(0.6)
        c.line(left, y - 2 * mm, right, y - 2 * mm)

        # product and face value
        y -= 2 * mm + 6 * mm
        y = self.lines(left, y, wrap(face.product_name, cjk, 13, CONTENT_W, 2), 13, leading=15.5)
        self.text(left, y - 1 * mm, "面額", 8, color=GREY)
        self.text(left + 9 * mm, y - 1 * mm, format_money(face.face_value), 12, font=LATIN_BOLD)
        y -= 5 * mm

        # QR code on the left (drawn per page), the facts on the right
        qr_top = y
        col = left + QR_SIZE + 3 * mm
        col_w = right - col
        fy = qr_top - 3 * mm
        self.text(col, fy, "核銷代碼", 7, color=GREY)
        fy -= 4.4 * mm
        code_slot = (col, fy, 9.5)
        fy -= 5.5 * mm
        self.text(col, fy, "票券序號", 7, color=GREY)
        fy -= 4 * mm
        serial_slot = (col, fy)
        fy -= 5.5 * mm
        self.text(col, fy, face.validity_label, 7, color=GREY)
        fy -= 4 * mm
        self.text(col, fy, _fit(face.validity_text, cjk, 8.5, col_w), 8.5)
        fy -= 5.5 * mm
        status_slot = (col, fy, col_w)
        if self.sample:
            self.lines(col, fy, wrap("測試樣張，不可使用", cjk, 8.5, col_w, 2), 8.5, color=RED)
        y = qr_top - QR_SIZE - 3 * mm

        # issuer and customer service
        contact = [f"發行單位：{face.issuer_name}"]
        if face.cs_phone:
            contact.append(f"客服電話：{face.cs_phone}")
        if face.cs_email:
            contact.append(f"客服信箱：{face.cs_email}")
        if face.line_url:
            contact.append(f"LINE：{face.line_url}")
        for value in contact:
            self.text(left, y, _fit(value, cjk, 7.5, CONTENT_W), 7.5)
            y -= 3.6 * mm

        bottom = MARGIN + 5 * mm
        # usage notes, then the rights statement (pickup vouchers), in what room is left
        for title, body, size in (("使用說明", face.usage_instructions, 6.5),
                                  ("權益說明", face.rights_statement, 6.2)):
            if not body.strip():
                continue
            room = int((y - bottom - 3.4 * mm) // (size * 1.3))
            if room < 1:
                break
            y -= 1 * mm
            self.text(left, y, title, 7, color=GREY)
            y -= 3.4 * mm
            y = self.lines(left, y, wrap(body, cjk, size, CONTENT_W, min(room, 12)), size)

        # footer
        c.setStrokeColor(LIGHT)
        c.line(left, MARGIN + 3.2 * mm, right, MARGIN + 3.2 * mm)
        note = "請妥善保管本票券，核銷時出示 QR Code 或核銷代碼"
        self.text(left, MARGIN, _fit(note, cjk, 6, CONTENT_W * 0.62), 6, color=GREY)
        if self.footer.text:
            self.text(right, MARGIN, self.footer.text, 6, color=GREY, right=True)
        return _Slots(name, (left, qr_top - QR_SIZE, QR_SIZE), code_slot, serial_slot, status_slot)

    def _qr(self, code: str, x: float, y: float, size: float) -> None:
        """The QR code as one filled path, written as PDF operators (a rectangle per run of
        dark modules). Coordinates are formatted once per place and size, not per rectangle."""
        modules = qr.matrix(code)
        key = (x, y, size, len(modules))
        grid = self.qr_grids.get(key)
        if grid is None:
            n = len(modules)
            unit = size / (n + 2 * qr.QUIET_ZONE)
            top = y + size - qr.QUIET_ZONE * unit
            grid = self.qr_grids[key] = (
                [f"{x + (c + qr.QUIET_ZONE) * unit:.2f}" for c in range(n)],
                [f"{top - (r + 1) * unit:.2f}" for r in range(n)],
                [f"{k * unit:.2f} {unit * 1.02:.2f} re" for k in range(n + 1)])
        xs, ys, sizes = grid
        ops = ["0 g"]
        ops.extend(f"{xs[c]} {ys[r]} {sizes[k]}" for r, c, k in qr.dark_runs(modules))
        ops.append("f")
        self.canvas.addLiteral("\n".join(ops))

    def _watermark(self) -> None:
        c = self.canvas
        c.saveState()
        c.setFillColor(colors.Color(0.85, 0.1, 0.1, alpha=0.28))
        c.translate(PAGE_W / 2, PAGE_H / 2)
        c.rotate(52)
        c.setFont(self.cjk, 22)
        c.drawCentredString(0, 6 * mm, SAMPLE_WATERMARK)
        c.setFont(self.cjk, 14)
        c.drawCentredString(0, -6 * mm, "測試列印樣張，不可使用")
        c.restoreState()
        c.saveState()
        c.setFillColor(RED)
        c.rect(0, PAGE_H - 5 * mm, PAGE_W, 5 * mm, stroke=0, fill=1)
        c.setFillColor(colors.white)
        c.setFont(self.cjk, 8)
        c.drawCentredString(PAGE_W / 2, PAGE_H - 3.6 * mm, SAMPLE_WATERMARK)
        c.restoreState()

    def finish(self) -> bytes:
        self.canvas.save()
        return self.buffer.getvalue()


def render(faces: Sequence[TicketFace], *, logos: Mapping[int, Path] | None = None,
           footer: Footer = Footer(), sample: bool = False) -> bytes:
    """The PDF of `faces`, one page each, in order. `logos` maps logo upload ids to files."""
    if not faces:
        raise ValueError("nothing to print")
    doc = _Document(logos or {}, footer, sample)
    for face in faces:
        doc.page(face)
    return doc.finish()
