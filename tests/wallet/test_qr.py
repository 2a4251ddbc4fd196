"""The QR code on the wallet page decodes to the ticket's redemption code: the page's inline SVG
is rasterised (its rectangles and path polygons, drawn with Pillow) and read by zbarimg."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess

from PIL import Image, ImageDraw

from tests.conftest import service_missing
from tests.wallet.helpers import confirm, tickets_of

SCALE = 8  # pixels per SVG unit (one QR module)


def _polygons(path: str) -> list[list[tuple[float, float]]]:
    """Polygons of an SVG path made of M/m, L/l, H/h, V/v and Z/z commands."""
    polygons, current = [], []
    x = y = 0.0
    for command, args in re.findall(r"([MmLlHhVvZz])([^MmLlHhVvZz]*)", path):
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if command in "Mm":
            if current:
                polygons.append(current)
            x, y = (numbers[0], numbers[1]) if command == "M" else (x + numbers[0], y + numbers[1])
            current = [(x, y)]
        elif command in "Ll":
            x, y = (numbers[0], numbers[1]) if command == "L" else (x + numbers[0], y + numbers[1])
            current.append((x, y))
        elif command in "Hh":
            x = numbers[0] if command == "H" else x + numbers[0]
            current.append((x, y))
        elif command in "Vv":
            y = numbers[0] if command == "V" else y + numbers[0]
            current.append((x, y))
        else:
            if current:
                polygons.append(current)
            current = []
    if current:
        polygons.append(current)
    return polygons


def rasterise(svg: str) -> Image.Image:
    width, height = (float(v) for v in re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())
    image = Image.new("L", (int(width * SCALE), int(height * SCALE)), 255)
    draw = ImageDraw.Draw(image)
    for attrs in re.findall(r"<rect([^>]*)/?>", svg):
        get = dict(re.findall(r'(\w+)="([^"]*)"', attrs))
        fill = 0 if get.get("fill", "#000") in ("#000", "#000000", "black") else 255
        x0, y0 = float(get.get("x", 0)) * SCALE, float(get.get("y", 0)) * SCALE
        draw.rectangle([x0, y0, x0 + float(get["width"]) * SCALE - 1,
                        y0 + float(get["height"]) * SCALE - 1], fill=fill)
    for d in re.findall(r'<path[^>]* d="([^"]+)"', svg):
        for polygon in _polygons(d):
            draw.polygon([(px * SCALE, py * SCALE) for px, py in polygon], fill=0)
    return image


def decode(image: Image.Image, tmp_path) -> str:  # noqa: ANN001
    if shutil.which("zbarimg") is None:
        service_missing("zbarimg not found (apt-get install zbar-tools)")
    path = tmp_path / "qr.png"
    image.save(path)
    done = subprocess.run(["zbarimg", "--raw", "-q", str(path)], capture_output=True, text=True,
                          timeout=30, check=False)
    return done.stdout.strip()


def page_qr_images(html: str) -> list[Image.Image]:
    """Every QR code of the page: inline SVGs, or PNG data URIs should the page switch to them."""
    images = [rasterise(svg) for svg in re.findall(r'<div class="wallet-qr"[^>]*>(<svg.*?</svg>)', html, re.S)]
    images += [Image.open(io.BytesIO(base64.b64decode(data)))
               for data in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]
    return images


def test_the_qr_code_on_the_page_decodes_to_the_redemption_code(bought, client, tmp_path):
    assert confirm(client, bought.token).status_code == 303
    html = client.get(f"/t/{bought.token}").get_data(as_text=True)
    images = page_qr_images(html)
    assert len(images) == 3
    decoded = [decode(image, tmp_path) for image in images]
    assert decoded == [t.code for t in tickets_of(bought.order)]


def test_the_rasteriser_reads_what_it_should(tmp_path):
    """Guards the guard: an SVG of a known QR code decodes, a blank one does not."""
    from app.printing.qr import svg

    assert decode(rasterise(str(svg("HELLO-WALLET"))), tmp_path) == "HELLO-WALLET"
    blank = '<svg viewBox="0 0 29 29"><rect width="29" height="29" fill="#fff"/></svg>'
    assert decode(rasterise(blank), tmp_path) == ""
