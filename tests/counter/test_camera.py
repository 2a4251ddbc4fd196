"""Camera scanning and sounds at the counter.

A clerk on a phone opens 相機掃描; Chromium's fake camera films the QR code of a real ticket (as
the ticket's print and wallet draw it); the code goes through the same lookup as a typed one, the
card appears and the clerk redeems. Scanning waits while the request runs and after its answer
until 繼續掃描. A refused camera or no camera is said in words. The page plays a rising tone on a
success and a low one on a refusal, for typed codes too, and the switch silences it.
"""

from __future__ import annotations

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from app.db import db
from app.tickets import codes
from app.tickets.models import Ticket
from tests.counter.conftest import SOUND_SPY, write_qr_video
from tests.counter.helpers import HTMX, clerk, lookup, text
from tests.factories import PASSWORD, login
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue
from tests.wallet.test_qr import decode

SUCCESS = [880, 1320]
REFUSAL = [220, 165]


@pytest.fixture
def tickets(app, live_server):  # noqa: ANN001, ANN201
    with app.app_context():
        store, owner, pickup, _ = ready_store("camissuer1")
        clerk(store, "camclerk01")
        issued = [t.code for t in issue(owner, store, pickup, quantity=2)]
        db.session.remove()
    return issued


def _counter(page, base: str, username: str = "camclerk01") -> None:  # noqa: ANN001
    page.goto(f"{base}/login")
    page.get_by_label("帳號").fill(username)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(lambda url: url.startswith(f"{base}/"))
    page.goto(f"{base}/counter/redeem")
    expect(page.locator("#counter-code")).to_be_focused()
    expect(page.get_by_test_id("sound-toggle")).to_be_visible()  # the page's scripts (and HTMX) are ready


def _status_of(app, code: str) -> str:  # noqa: ANN001
    with app.app_context():
        status = db.session.scalar(select(Ticket.status).where(Ticket.code.matches(code))
                                   .execution_options(unscoped=True))
        db.session.remove()
    return status.value


def _tones(page) -> list[int]:  # noqa: ANN001
    return [round(t["frequency"]) for t in page.evaluate("window.__tones")]


def _wait_tones(page, count: int) -> list[int]:  # noqa: ANN001
    page.wait_for_function("n => window.__tones.length >= n", arg=count)
    return _tones(page)


# The QR film itself ---------------------------------------------------------------------------

def test_the_film_shows_the_code_as_a_qr_code_a_reader_decodes(tmp_path):
    code = codes.new_redemption_code()
    film = write_qr_video(tmp_path / "film.y4m", code, frames=2)
    header, _, rest = film.read_bytes().partition(b"\n")
    luma = rest[len(b"FRAME\n"):len(b"FRAME\n") + 640 * 480]
    assert header == b"YUV4MPEG2 W640 H480 F5:1 Ip A1:1 C420jpeg"
    assert len(rest) == 2 * (len(b"FRAME\n") + 640 * 480 * 3 // 2)
    assert decode(Image.frombytes("L", (640, 480), luma), tmp_path) == code


# The page -------------------------------------------------------------------------------------

def test_the_page_offers_the_camera_and_the_sound_switch_without_inline_script(client, ctx):
    ready_store("camissuer2")
    login(client, "camissuer2")
    body = text(client.get("/counter/redeem"))
    assert 'data-camera-open hidden' in body and "相機掃描" in body  # shown by the script if it can
    assert 'data-sound-toggle hidden' in body
    assert "vendor/zxing-browser/zxing-browser-0.2.1.min.js" in body  # loaded on opening only
    assert "js/counter-camera.js" in body
    assert "<script>" not in body and " onclick=" not in body and " onload=" not in body


def test_the_answer_says_success_or_refusal_for_the_sounds(client, ctx):
    store, owner, pickup, _ = ready_store("camissuer3")
    [ticket] = issue(owner, store, pickup)
    login(client, "camissuer3")
    found = text(lookup(client, "redeem", ticket.code, htmx=True))
    unknown = lookup(client, "redeem", codes.new_redemption_code(), htmx=True)
    done = text(client.post("/counter/act", headers=HTMX, data={
        "action": "redeem", "code": ticket.code, "ticket_id": ticket.id, "seen": "unused"}))
    again = text(lookup(client, "redeem", ticket.code, htmx=True))
    assert 'data-counter-result="success"' in found
    assert unknown.status_code == 404 and 'data-counter-result="refusal"' in text(unknown)
    assert 'data-counter-result="success"' in done and "已送出核銷" in done
    assert 'data-counter-result="refusal"' in again and 'data-testid="card-refusal"' in again
    assert 'data-counter-result=""' in text(client.get("/counter/redeem"))


# In the browser -------------------------------------------------------------------------------

@pytest.mark.browser
def test_a_clerk_scans_a_ticket_with_the_phone_camera_and_redeems_it(app, live_server, camera_page, tickets):
    code, other = tickets
    page = camera_page(code)
    _counter(page, live_server)
    camera = page.locator("#counter-camera")
    expect(camera).to_be_hidden()

    page.get_by_test_id("camera-open").click()
    expect(camera).to_be_visible()
    # the film is read, the code looked up like a typed one, and scanning waits for the clerk
    card = page.get_by_test_id("ticket-card")
    expect(card).to_contain_text("未使用")
    expect(page.get_by_test_id("card-code")).to_have_text(codes.display_code(code))
    expect(camera).to_have_attribute("data-camera-state", "paused")
    expect(page.get_by_role("button", name="繼續掃描")).to_be_visible()
    assert _wait_tones(page, 2)[:2] == SUCCESS
    # a phone (390×844): nothing wider than the screen, the view at most about a third of it
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.locator("[data-camera-video]").bounding_box()["height"] <= 0.35 * 844

    page.get_by_test_id("act-button").click()
    expect(page.get_by_test_id("counter-success")).to_have_text("已送出核銷，票券狀態已變更")
    expect(camera).to_have_attribute("data-camera-state", "paused")
    assert _status_of(app, code) == "used"
    assert _wait_tones(page, 4)[2:4] == SUCCESS

    # the keyboard (or a scanner gun) still works with the camera open
    page.locator("#counter-code").fill(other)
    page.locator("#counter-code").press("Enter")
    expect(page.get_by_test_id("card-code")).to_have_text(codes.display_code(other))

    # continuing scans again (the ticket still in front of the lens is not looked up twice)
    page.get_by_role("button", name="繼續掃描").click()
    expect(camera).to_have_attribute("data-camera-state", "scanning")
    expect(page.get_by_test_id("camera-status")).to_have_text("請將票券的 QR Code 對準鏡頭")
    page.get_by_role("button", name="關閉相機").click()
    expect(camera).to_be_hidden()
    expect(page.locator("#counter-code")).to_be_focused()
    assert page.evaluate("document.querySelector('[data-camera-video]').srcObject") is None

    # opened again on purpose, the redeemed ticket is read again: refused, with the low tone
    page.get_by_test_id("camera-open").click()
    expect(page.get_by_test_id("card-refusal")).to_contain_text("此票券已核銷")
    expect(camera).to_have_attribute("data-camera-state", "paused")
    assert _wait_tones(page, 8)[6:8] == REFUSAL
    assert _status_of(app, code) == "used"


@pytest.mark.browser
def test_a_refused_or_missing_camera_is_said_in_words_and_no_camera_api_hides_the_button(
        live_server, page, tickets):
    _counter(page, live_server)
    camera = page.locator("#counter-camera")
    for error, message in (
            ("NotAllowedError", "無法使用相機：相機權限被拒絕。請在瀏覽器的網站設定中允許此網站使用相機"),
            ("NotFoundError", "找不到可用的相機。請改用鍵盤或掃描槍輸入核銷代碼。"),
            ("NotReadableError", "相機正被其他程式使用中")):
        page.evaluate("name => { navigator.mediaDevices.getUserMedia = () =>"
                      " Promise.reject(new DOMException('no', name)); }", error)
        page.get_by_test_id("camera-open").click()
        expect(page.get_by_test_id("camera-status")).to_contain_text(message)
        expect(camera).to_have_attribute("data-camera-state", "failed")
        page.get_by_role("button", name="關閉相機").click()
        expect(camera).to_be_hidden()
        expect(page.locator("#counter-code")).to_be_focused()

    page.add_init_script("Object.defineProperty(Navigator.prototype, 'mediaDevices', {get: () => undefined});")
    page.reload()
    expect(page.get_by_test_id("sound-toggle")).to_be_visible()  # the page's scripts have run
    assert page.get_by_test_id("camera-open").is_hidden()


@pytest.mark.browser
def test_typed_codes_sound_a_rising_tone_on_success_a_low_one_on_refusal_and_the_switch_mutes(
        live_server, page, tickets):
    code, other = tickets
    page.add_init_script(SOUND_SPY)
    _counter(page, live_server)
    field = page.locator("#counter-code")

    field.fill(code)
    field.press("Enter")
    expect(page.get_by_test_id("ticket-card")).to_contain_text("未使用")
    assert _wait_tones(page, 2) == SUCCESS
    page.get_by_test_id("act-button").click()
    expect(page.get_by_test_id("counter-success")).to_be_visible()
    assert _wait_tones(page, 4) == SUCCESS * 2

    field.fill(codes.new_redemption_code())  # unknown: a 404 swapped into the page
    field.press("Enter")
    expect(page.get_by_test_id("counter-error")).to_contain_text("查無此核銷代碼")
    tones = _wait_tones(page, 6)
    assert tones[4:] == REFUSAL and max(REFUSAL) < min(SUCCESS)
    assert {t["type"] for t in page.evaluate("window.__tones")[4:]} == {"square"}

    # a failed request (the banner of app.js) is a refusal too
    page.route("**/counter/lookup", lambda route: route.fulfill(status=500, body="boom"))
    field.fill(other)
    field.press("Enter")
    expect(page.get_by_test_id("request-error")).to_contain_text("HTTP 500")
    assert _wait_tones(page, 8)[6:] == REFUSAL
    page.unroute("**/counter/lookup")

    # muted: the next answers are silent (what is heard after unmuting is only the next answer's)
    switch = page.get_by_test_id("sound-toggle")
    switch.click()
    expect(switch).to_have_text("提示音：關")
    field.fill(other)
    field.press("Enter")
    expect(page.get_by_test_id("ticket-card")).to_contain_text("未使用")
    # HTMX moves the focus to 【核銷】 when the swap settles; typing before that could lose it
    expect(page.get_by_test_id("act-button")).to_be_focused()
    field.fill(codes.new_redemption_code())
    field.press("Enter")
    expect(page.get_by_test_id("counter-error")).to_be_visible()
    switch.click()
    expect(switch).to_have_text("提示音：開")
    field.fill(other)
    field.press("Enter")
    expect(page.get_by_test_id("ticket-card")).to_contain_text("未使用")
    assert _wait_tones(page, 10) == SUCCESS * 2 + REFUSAL * 2 + SUCCESS

    # the switch is remembered on the next visit
    switch.click()
    expect(switch).to_have_text("提示音：關")
    page.reload()
    expect(switch).to_have_text("提示音：關")
    field.fill(other)
    field.press("Enter")
    expect(page.get_by_test_id("ticket-card")).to_contain_text("未使用")
    expect(page.get_by_test_id("act-button")).to_be_focused()
    switch.click()
    field.fill(codes.new_redemption_code())
    field.press("Enter")
    expect(page.get_by_test_id("counter-error")).to_be_visible()
    assert _wait_tones(page, 2) == REFUSAL  # the page's record starts empty on the reload
