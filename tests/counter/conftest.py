"""Counter browser fixtures: a Chromium whose camera films a ticket's QR code, and a sound spy.

Chromium's fake capture device plays a Y4M file in a loop; the file is written per test from the
QR code that the ticket's print and wallet show (app.printing.qr, the one encoder), drawn with
Pillow and centred in a white 640×480 frame, a few frames of 4:2:0 raw video.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from app.printing.qr import QUIET_ZONE, matrix
from tests.conftest import CHROMIUM, CHROMIUM_ARGS

FRAME = (640, 480)
MODULE_PX = 10
PHONE = {"width": 390, "height": 844}

# Records every tone the page starts: the oscillator's type and frequency, in order.
SOUND_SPY = """
window.__tones = [];
(function () {
  var start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function () {
    window.__tones.push({type: this.type, frequency: this.frequency.value});
    return start.apply(this, arguments);
  };
})();
"""


def qr_image(text: str) -> Image.Image:
    """The QR code of `text` as a white frame with the symbol (and its quiet zone) in the middle."""
    modules = matrix(text)
    side = (len(modules) + 2 * QUIET_ZONE) * MODULE_PX
    symbol = Image.new("L", (side, side), 255)
    for r, row in enumerate(modules):
        for c, dark in enumerate(row):
            if dark:
                x, y = (c + QUIET_ZONE) * MODULE_PX, (r + QUIET_ZONE) * MODULE_PX
                symbol.paste(0, (x, y, x + MODULE_PX, y + MODULE_PX))
    frame = Image.new("L", FRAME, 255)
    frame.paste(symbol, ((FRAME[0] - side) // 2, (FRAME[1] - side) // 2))
    return frame


def write_qr_video(path: Path, text: str, frames: int = 3) -> Path:
    """A Y4M (4:2:0) film of the QR code of `text`: luma from the image, neutral chroma."""
    image = qr_image(text)
    width, height = image.size
    luma = image.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    with path.open("wb") as film:
        film.write(f"YUV4MPEG2 W{width} H{height} F5:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            film.write(b"FRAME\n" + luma + chroma + chroma)
    return path


@pytest.fixture
def camera_page(browser_instance, tmp_path: Path) -> Iterator[Callable[[str], object]]:  # noqa: ANN001
    """`camera_page(text)`: a phone-sized page in a Chromium of its own whose camera (allowed
    without asking) films the QR code of `text`; the tones the page plays are recorded."""
    browsers = []

    def open_page(text: str):  # noqa: ANN202
        film = write_qr_video(tmp_path / f"camera-{len(browsers)}.y4m", text)
        browser = browser_instance.browser_type.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-video-capture={film}"])
        browsers.append(browser)
        context = browser.new_context(locale="zh-TW", timezone_id="Asia/Taipei", viewport=PHONE,
                                      is_mobile=True, has_touch=True)
        context.set_default_timeout(10_000)
        context.add_init_script(SOUND_SPY)
        return context.new_page()

    yield open_page
    for browser in browsers:
        browser.close()
