"""Counter pages (7-3 E–H): look a code up, see the card, press the one button, read the answer."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.stores.models import RelationStatus
from app.tickets.status import TicketStatus as S
from tests.counter.helpers import (
    HTMX,
    act,
    clerk,
    code_field_value,
    dashed,
    entries,
    error_message,
    has_autofocus_code,
    lookup,
    reload,
    text,
)
from tests.factories import link_product, login, make_account, make_branch, make_relation, make_store
from tests.issuance.helpers import ready_store
from tests.tickets.helpers import issue

T = clock.taipei_datetime


@pytest.fixture
def shop(ctx):  # noqa: ANN001, ANN201
    clock.freeze(T(2026, 7, 1, 9, 0))
    store, owner, pickup, gift = ready_store("issuer01")
    return store, owner, pickup, gift


# 票券核銷 -----------------------------------------------------------------------------------

def test_the_page_opens_with_the_code_field_focused(client, shop):
    login(client, "issuer01")
    response = client.get("/counter/redeem")
    body = text(response)
    assert response.status_code == 200
    assert has_autofocus_code(body)
    assert 'autocomplete="off"' in body and 'inputmode="text"' in body
    assert 'hx-post="/counter/lookup"' in body and 'action="/counter/lookup"' in body
    assert '<input type="hidden" name="action" value="redeem">' in body


def test_a_bound_clerk_redeems_a_typed_code_in_lower_case_with_dashes(client, shop):
    store, owner, pickup, _ = shop
    branch = make_branch(store, "A001", "台北門市")
    clerk(store, "clerkA01", branch)
    [ticket] = issue(owner, store, pickup)
    login(client, "clerkA01")

    found = lookup(client, "redeem", dashed(ticket.code))
    card = text(found)
    assert found.status_code == 200
    assert 'data-testid="ticket-card"' in card and "咖啡券" in card and "NT$150" in card
    assert 'data-status="unused"' in card and "未使用" in card
    assert "價金保管至 2027/11/21" in card and "0912***678" in card and "0912345678" not in card
    assert f'href="/tickets/{ticket.serial}"' in card  # the issuer's own clerk: the serial links
    assert 'data-testid="act-button"' in card and "autofocus" in card.split('data-testid="act-button"')[0][-200:]
    assert code_field_value(card) == ""  # emptied, so the next scan goes straight in

    done = act(client, "redeem", ticket)
    body = text(done)
    assert done.status_code == 200
    assert 'role="status"' in body and "已送出核銷，票券狀態已變更" in body
    assert has_autofocus_code(body) and code_field_value(body) == ""
    ticket = reload(ticket)
    assert ticket.status is S.USED and ticket.redeemed_branch_id == branch.id
    assert [e.actor_label for e in entries(ticket, "redeemed")] == ["clerkA01"]


def test_the_issuer_cancels_a_redemption_the_same_day_with_a_reason(client, shop):
    store, owner, pickup, _ = shop
    branch = make_branch(store, "A001", "台北門市")
    clerk(store, "clerkA01", branch)
    [ticket] = issue(owner, store, pickup)
    login(client, "clerkA01")
    act(client, "redeem", ticket)
    client.post("/logout")

    clock.freeze(T(2026, 7, 1, 23, 59))
    login(client, "issuer01")
    card = text(lookup(client, "cancel-redemption", ticket.code))
    assert "取消原因" in card and 'id="act-reason"' in card and "已使用" in card
    done = act(client, "cancel-redemption", reload(ticket), reason="店員按錯")
    assert done.status_code == 200 and "已取消核銷，票券狀態已變更" in text(done)
    ticket = reload(ticket)
    assert ticket.status is S.UNUSED and ticket.redeemed_at is None
    assert entries(ticket, "redemption_cancelled")[0].reason == "店員按錯"


def test_cancel_redemption_needs_its_box_ticked_and_never_focuses_the_reason(client, shop):
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    login(client, "issuer01")
    act(client, "redeem", ticket)

    card = text(lookup(client, "cancel-redemption", ticket.code))
    assert "我確認要取消此票券的核銷" in card and 'id="act-confirm"' in card
    assert "autofocus" in card.split('id="act-confirm"')[0][-300:] + card.split('id="act-confirm"')[1][:40]
    reason = card.split('id="act-reason"')[1].split(">")[0]
    assert "autofocus" not in reason
    # what a scan and two Enters send: the card's form as it is, its box not ticked
    refused = act(client, "cancel-redemption", reload(ticket), reason="", confirm=False)
    body = text(refused)
    assert refused.status_code == 422
    assert error_message(body) == "請勾選「我確認要取消此票券的核銷」後再按【取消核銷】"
    assert 'data-testid="ticket-card"' in body and "is-invalid" in body.split('id="act-confirm"')[0][-200:]
    assert reload(ticket).status is S.USED and entries(ticket, "redemption_cancelled") == []
    done = act(client, "cancel-redemption", reload(ticket), confirm=True)
    assert done.status_code == 200 and reload(ticket).status is S.UNUSED
    # the other pages ask no such thing
    assert "act-confirm" not in text(lookup(client, "redeem", ticket.code))


def test_a_refusal_is_said_before_any_box_is_asked_for(client, shop):
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    login(client, "issuer01")
    refused = act(client, "cancel-redemption", ticket, confirm=False)  # an unused ticket
    assert refused.status_code == 409 and "我確認要取消" not in error_message(text(refused))


def test_cancel_redemption_at_midnight_the_next_day_is_refused(client, shop):
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    login(client, "issuer01")
    act(client, "redeem", ticket)
    clock.freeze(T(2026, 7, 2, 0, 0))
    card = text(lookup(client, "cancel-redemption", ticket.code))
    assert "已超過可取消的時間" in card and 'data-testid="act-form"' not in card
    refused = act(client, "cancel-redemption", reload(ticket), reason="太晚了")
    assert refused.status_code == 409
    assert "已超過可取消的時間（限操作當日 23:59 前）" in error_message(text(refused))
    assert reload(ticket).status is S.USED


def test_a_partner_store_redeems_a_granted_product_and_sees_the_issuer(client, shop):
    store, owner, pickup, _ = shop
    partner = make_store("可核銷商店")
    make_account(partner, username="partner01")
    make_relation(store, partner)
    link_product(pickup, partners=[partner])
    db.session.commit()
    [ticket] = issue(owner, store, pickup)
    login(client, "partner01")

    card = text(lookup(client, "redeem", ticket.code))
    assert 'data-testid="issuer"' in card and store.name in card and "跨店" in card
    assert f'href="/tickets/{ticket.serial}"' not in card and ticket.serial in card  # no link
    done = act(client, "redeem", ticket)
    assert done.status_code == 200 and "已送出核銷，票券狀態已變更" in text(done)
    assert reload(ticket).redeemed_store_id == partner.id
    # the detail page is the issuer's only
    assert client.get(f"/tickets/{ticket.serial}").status_code == 404


def test_a_partner_loses_its_tickets_once_the_relation_is_dissolved(client, shop):
    store, owner, pickup, _ = shop
    partner = make_store("可核銷商店")
    make_account(partner, username="partner01")
    relation = make_relation(store, partner)
    link_product(pickup, partners=[partner])
    db.session.commit()
    [ticket] = issue(owner, store, pickup)
    relation.status = RelationStatus.DISSOLVED
    db.session.commit()
    login(client, "partner01")
    refused = act(client, "redeem", ticket)
    assert refused.status_code == 403
    assert "與發行單位的跨店關聯已解除" in error_message(text(refused))
    assert reload(ticket).status is S.UNUSED


# 票券退貨 / 取消退貨 ------------------------------------------------------------------------------

def test_return_with_a_fee_then_cancel_the_return_with_reasons(client, shop):
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    login(client, "issuer01")

    card = text(lookup(client, "return", ticket.code))
    assert 'id="act-fee"' in card and 'max="150"' in card and "退貨原因" in card
    done = act(client, "return", ticket, reason="消費者不想要了", fee=30)
    assert done.status_code == 200 and "已送出退貨，票券狀態已變更" in text(done)
    ticket = reload(ticket)
    assert (ticket.status, ticket.return_fee, ticket.return_reason) == (S.RETURN_PENDING, 30, "消費者不想要了")

    card = text(lookup(client, "cancel-return", ticket.code))
    assert "取消退貨原因" in card and "待退貨" in card
    missing = act(client, "cancel-return", ticket, reason="")
    assert missing.status_code == 422 and "請輸入取消退貨原因" in text(missing)
    assert reload(ticket).status is S.RETURN_PENDING
    done = act(client, "cancel-return", ticket, reason="消費者改變心意")
    assert done.status_code == 200 and "已取消退貨，票券狀態已變更" in text(done)
    assert reload(ticket).status is S.UNUSED

    history = text(client.get(f"/tickets/{ticket.serial}"))
    assert "消費者不想要了（退貨手續費 NT$30）" in history and "消費者改變心意" in history
    assert "未使用 → 待退貨" in history and "待退貨 → 未使用" in history


def test_a_return_needs_a_reason_and_a_fee_within_the_face_value(client, shop):
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    login(client, "issuer01")
    no_reason = act(client, "return", ticket, reason=" ")
    assert no_reason.status_code == 422 and "請輸入退貨原因" in text(no_reason)
    assert 'id="act-reason"' in text(no_reason)  # the card again, the message on its field
    too_much = act(client, "return", ticket, reason="客訴", fee=151)
    assert too_much.status_code == 409 and "退貨手續費不可超過票券面額" in error_message(text(too_much))
    not_a_number = act(client, "return", ticket, reason="客訴", fee="abc")
    assert not_a_number.status_code == 422 and 'id="act-fee"' in text(not_a_number)
    assert reload(ticket).status is S.UNUSED


def test_gift_vouchers_offer_no_fee_and_refuse_cancel_redemption(client, shop):
    store, owner, _, gift = shop
    first, second = issue(owner, store, gift, quantity=2)
    login(client, "issuer01")
    card = text(lookup(client, "return", first.code))
    assert 'id="act-fee"' not in card and "使用期限" in card
    refused = act(client, "return", first, reason="x", fee=10)
    assert refused.status_code == 409 and "僅價金保管期間內的提貨券可以設定退貨手續費" in text(refused)
    act(client, "redeem", second)
    refused = act(client, "cancel-redemption", reload(second), reason="按錯")
    assert refused.status_code == 409 and "贈品券核銷後無法取消核銷" in error_message(text(refused))
    assert reload(second).status is S.USED


# Refusals in the clerk's terms ---------------------------------------------------------------

def test_an_already_redeemed_ticket_says_when_where_and_by_whom(client, shop):
    store, owner, pickup, _ = shop
    branch = make_branch(store, "A001", "台北門市")
    clerk(store, "clerkA01", branch)
    [ticket] = issue(owner, store, pickup)
    login(client, "clerkA01")
    act(client, "redeem", ticket)
    client.post("/logout")
    clock.freeze(T(2026, 7, 1, 10, 30))
    login(client, "issuer01")
    expected = f"此票券已核銷（於 2026/07/01 09:00 由 {store.name}（台北門市） clerkA01）"
    card = text(lookup(client, "redeem", ticket.code))
    assert expected in card and 'data-testid="act-form"' not in card
    refused = act(client, "redeem", ticket, seen="unused")
    assert refused.status_code == 409 and error_message(text(refused)) == expected


def test_a_disabled_branch_clerk_opens_the_page_but_cannot_act(client, shop):
    store, owner, pickup, _ = shop
    branch = make_branch(store, "A009", "停用分店", enabled=False)
    clerk(store, "clerkOff", branch)
    [ticket] = issue(owner, store, pickup)
    login(client, "clerkOff")
    message = "您所屬的分店已停用，僅可查詢報表，無法進行票券操作"
    for slug in ("redeem", "cancel-redemption", "return", "cancel-return"):
        assert client.get(f"/counter/{slug}").status_code == 200
    card = text(lookup(client, "redeem", ticket.code))
    assert message in card and 'data-testid="act-form"' not in card
    for slug in ("redeem", "return"):
        refused = act(client, slug, ticket, reason="客訴")
        assert refused.status_code == 403 and error_message(text(refused)) == message
    assert reload(ticket).status is S.UNUSED


def test_a_branch_not_in_the_products_redeem_list_is_refused(client, shop):
    store, owner, pickup, _ = shop
    listed = make_branch(store, "B001", "信義門市")
    other = make_branch(store, "B002", "板橋門市")
    link_product(pickup, redeem=[listed])
    db.session.commit()
    clerk(store, "clerkB02", other)
    [ticket] = issue(owner, store, pickup)
    login(client, "clerkB02")
    refused = act(client, "redeem", ticket)
    assert refused.status_code == 403
    assert error_message(text(refused)) == "您所屬的分店不在此商品的核銷分店名單內"
    assert reload(ticket).status is S.UNUSED


def test_mistyped_and_unknown_codes(client, shop):
    from app.tickets import codes

    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    login(client, "issuer01")
    typo = ticket.code[:-1] + ("0" if ticket.code[-1] != "0" else "1")
    response = lookup(client, "redeem", typo)  # the same answer as unknown (docs/tickets.md)
    assert response.status_code == 404
    assert error_message(text(response)) == "查無此核銷代碼，請確認是否輸入正確"
    assert code_field_value(text(response)) == typo and has_autofocus_code(text(response))
    response = lookup(client, "redeem", codes.new_redemption_code())
    assert response.status_code == 404
    assert error_message(text(response)) == "查無此核銷代碼，請確認是否輸入正確"
    empty = lookup(client, "redeem", "")
    assert empty.status_code == 422 and "請輸入核銷代碼" in text(empty)


def test_a_short_code_is_told_its_length_before_its_check_character(client, shop):
    login(client, "issuer01")
    response = lookup(client, "redeem", "ab12-cd3")  # 7 characters once the dash is gone
    assert response.status_code == 422
    assert error_message(text(response)) == "核銷代碼應為 16 碼，目前輸入 7 碼"
    assert code_field_value(text(response)) == "ab12-cd3"


def test_another_stores_ticket_is_not_found_by_code_or_by_id(client, shop):
    store, owner, pickup, _ = shop
    [mine] = issue(owner, store, pickup)
    other_store, other_owner, other_pickup, _ = ready_store("issuer02")
    [theirs] = issue(other_owner, other_store, other_pickup)
    login(client, "issuer01")
    assert lookup(client, "redeem", theirs.code).status_code == 404
    assert act(client, "redeem", theirs).status_code == 404
    forged = act(client, "redeem", mine, ticket_id=theirs.id)  # my code, their id
    assert forged.status_code == 404 and "查無此核銷代碼" in text(forged)
    assert reload(theirs).status is S.UNUSED and reload(mine).status is S.UNUSED


def test_a_parent_store_not_switched_acts_as_itself_only(client, shop):
    store, owner, pickup, _ = shop
    child, child_owner, child_pickup, _ = ready_store("child01")
    child.parent_id = store.id
    db.session.commit()
    [theirs] = issue(child_owner, child, child_pickup)
    login(client, "issuer01")
    assert lookup(client, "redeem", theirs.code).status_code == 404
    assert reload(theirs).status is S.UNUSED


# Double submission, permissions, HTMX -----------------------------------------------------------

def test_the_same_action_posted_twice_redeems_once(client, shop):
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    login(client, "issuer01")
    card = text(lookup(client, "redeem", ticket.code))
    assert "hx-disabled-elt=\"find button[type='submit']\"" in card  # the button disables itself
    first = act(client, "redeem", ticket, seen="unused")
    second = act(client, "redeem", ticket, seen="unused")
    assert first.status_code == 200 and second.status_code == 409
    assert error_message(text(second)).startswith("此票券已核銷（於 2026/07/01 09:00")
    assert len(entries(ticket, "redeemed")) == 1


def test_a_card_gone_stale_is_shown_again_rather_than_acted_on(client, shop):
    """The cancel page's card showed 未使用; the ticket has since been redeemed, so cancelling
    would now apply to a redemption the clerk never saw: the fresh card is shown instead."""
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    login(client, "issuer01")
    act(client, "redeem", ticket)
    stale = act(client, "cancel-redemption", reload(ticket), seen="unused", reason="x")
    assert stale.status_code == 409 and "票券狀態已變更（目前為「已使用」）" in text(stale)
    assert 'data-testid="act-form"' in text(stale) and reload(ticket).status is S.USED


def test_view_only_accounts_see_the_card_but_cannot_act(client, shop):
    store, owner, pickup, _ = shop
    clerk(store, "viewer01", grants={Function.REDEEM: Level.VIEW})
    clerk(store, "nobody01", grants={Function.PRODUCTS: Level.MODIFY})
    [ticket] = issue(owner, store, pickup)
    login(client, "viewer01")
    assert client.get("/counter/redeem").status_code == 200
    assert client.get("/counter/return").status_code == 403
    card = text(lookup(client, "redeem", ticket.code))
    assert 'data-testid="ticket-card"' in card and 'data-testid="act-form"' not in card
    refused = act(client, "redeem", ticket)
    assert refused.status_code == 403 and error_message(text(refused)) == "您沒有票券核銷的權限"
    assert act(client, "return", ticket, reason="x").status_code == 403
    assert reload(ticket).status is S.UNUSED
    client.post("/logout")
    login(client, "nobody01")
    assert client.get("/counter/redeem").status_code == 403
    assert lookup(client, "redeem", ticket.code).status_code == 403


def test_an_installment_store_has_no_counter_pages(client, ctx):
    from app.stores.models import RedemptionMode

    store = make_store(mode=RedemptionMode.INSTALLMENT)
    make_account(store, username="inst0001")
    db.session.commit()
    login(client, "inst0001")
    assert client.get("/counter/redeem").status_code == 403


def test_htmx_answers_the_counter_area_only(client, shop):
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    login(client, "issuer01")
    found = lookup(client, "redeem", ticket.code, htmx=True)
    assert found.status_code == 200 and "<html" not in text(found)
    assert 'data-testid="ticket-card"' in text(found) and 'id="counter-code"' in text(found)
    done = act(client, "redeem", ticket, htmx=True)
    assert done.status_code == 200 and "<html" not in text(done)
    assert "已送出核銷，票券狀態已變更" in text(done) and has_autofocus_code(text(done))
    again = act(client, "redeem", ticket, seen="unused", htmx=True)
    assert again.status_code == 409 and "<html" not in text(again) and "此票券已核銷" in text(again)
    assert "Vary" in done.headers and "HX-Request" in done.headers["Vary"]


def test_the_detail_page_buttons_open_the_counter_with_the_code(client, shop):
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    login(client, "issuer01")
    page = text(client.get(f"/tickets/{ticket.serial}"))
    assert 'data-action="redeem"' in page and 'data-action="return"' in page
    assert 'data-action="cancel-redemption"' not in page and 'data-action="cancel-return"' not in page
    opened = lookup(client, "return", ticket.code)  # what the 票券退貨 button posts
    assert opened.status_code == 200 and 'data-testid="ticket-card"' in text(opened)


# The brute-force guard ---------------------------------------------------------------------------

class _Clock:
    """Stands in for `time` inside the rate limiter's memory storage, to let a window pass."""

    def __init__(self) -> None:
        import time

        self.offset = 0.0
        self._time = time.time

    def time(self) -> float:
        return self._time() + self.offset


def test_unknown_codes_are_rate_limited_per_account_until_the_window_passes(client, app, shop, monkeypatch):
    import limits.storage.memory as memory

    from app.tickets import codes

    fake = _Clock()
    monkeypatch.setattr(memory, "time", fake)
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    clerk(store, "clerkX01")
    login(client, "issuer01")
    typo = ticket.code[:-1] + ("0" if ticket.code[-1] != "0" else "1")
    for i in range(20):  # unknown codes, and a mistyped one, each count a failure
        response = lookup(client, "redeem", typo if i == 0 else codes.new_redemption_code())
        assert response.status_code in (404, 422)
    blocked = lookup(client, "redeem", codes.new_redemption_code())
    assert blocked.status_code == 429
    assert error_message(text(blocked)) == "查詢錯誤的核銷代碼次數過多，請 10 分鐘後再試"
    valid = lookup(client, "redeem", ticket.code)  # even a real code, until the window passes
    assert valid.status_code == 429
    assert act(client, "redeem", ticket).status_code == 429 and reload(ticket).status is S.UNUSED

    other = app.test_client()
    login(other, "clerkX01")
    found = lookup(other, "redeem", ticket.code, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert found.status_code == 200 and 'data-testid="ticket-card"' in text(found)

    fake.offset = timedelta(minutes=10, seconds=1).total_seconds()
    assert lookup(client, "redeem", ticket.code).status_code == 200


def test_found_codes_never_count(client, shop):
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    login(client, "issuer01")
    for _ in range(25):
        assert lookup(client, "redeem", ticket.code).status_code == 200


def test_one_clerks_typos_do_not_stop_the_other_clerks_of_the_branch(client, app, shop):
    from app.tickets import codes

    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    users = [clerk(store, f"clerkIp{i}").username for i in range(4)]
    ip = {"REMOTE_ADDR": "10.9.9.9"}  # one branch, one address
    for username in users[:3]:  # 3 clerks × 20 typos: each clerk's own limit
        c = app.test_client()
        login(c, username)
        for _ in range(20):
            assert lookup(c, "redeem", codes.new_redemption_code(), environ_base=ip).status_code == 404
        assert lookup(c, "redeem", ticket.code, environ_base=ip).status_code == 429  # slowed
    c = app.test_client()
    login(c, users[3])
    found = lookup(c, "redeem", ticket.code, environ_base=ip)
    assert found.status_code == 200 and 'data-testid="ticket-card"' in text(found)


def test_an_unknown_counter_action_is_404(client, shop):
    login(client, "issuer01")
    assert client.post("/counter/lookup", data={"action": "refund", "code": "x"}).status_code == 404
    assert client.post("/counter/act", data={"code": "x"}).status_code == 404


def test_the_card_carries_one_csrf_token_and_a_press_without_it_changes_nothing(client, shop):
    """The counter forms leave the token to the app-wide CSRF check (it runs before any view):
    the card still carries it, once, and a press without it is refused with the ticket unused."""
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    login(client, "issuer01")
    card = text(lookup(client, "redeem", ticket.code))
    form = card.split('data-testid="act-form"')[1].split("</form>")[0]
    assert form.count('name="csrf_token"') == 1

    refused = act(client, "redeem", ticket, csrf=False, htmx=True)
    assert refused.status_code == 400
    assert reload(ticket).status is S.UNUSED and entries(ticket, "redeemed") == []
    assert act(client, "redeem", ticket).status_code == 200  # with the token: redeemed
    assert reload(ticket).status is S.USED


def test_a_redemption_press_with_a_bad_field_shows_the_card_again(client, shop):
    """The press reads the ticket as a plain row (app.tickets.plain); the card it shows again
    beside a field's message is the whole ticket's."""
    store, owner, pickup, _ = shop
    [ticket] = issue(owner, store, pickup)
    login(client, "issuer01")
    refused = act(client, "redeem", ticket, fee="很多")
    body = text(refused)
    assert refused.status_code == 422
    assert 'data-testid="ticket-card"' in body and 'data-testid="act-form"' in body
    assert reload(ticket).status is S.UNUSED
    assert act(client, "redeem", ticket).status_code == 200
    assert reload(ticket).status is S.USED


def test_a_main_accounts_press_copies_neither_account_nor_store_into_the_session(
        client, shop, record_merges):
    """The press reads who acts and for which store from the request cache (a CachedPrincipal,
    app.web.PRINCIPAL_ENDPOINTS); the card page, which reads more, has the ORM account."""
    store, owner, pickup, _ = shop
    first, second = issue(owner, store, pickup, quantity=2)
    login(client, "issuer01")
    copied = record_merges()
    for ticket in (first, second):
        pressed = act(client, "redeem", ticket, htmx=True)
        assert pressed.status_code == 200 and 'data-testid="counter-success"' in text(pressed)
    assert copied == []
    assert {reload(t).redeemed_by_id for t in (first, second)} == {owner.id}
    assert [e.actor_label for e in entries(first, "redeemed")] == ["issuer01"]
    assert lookup(client, "redeem", first.code).status_code == 200
    assert "Account" in copied  # a lookup renders the card: the ORM account, copied


def test_an_answer_gives_back_the_token_it_was_sent_and_a_plain_form_post_works(client, shop):
    """An HTMX answer's lookup form carries the CSRF token the press was sent with (already
    checked; a token lasts the session) instead of a newly signed one, so a scan sent before
    HTMX takes the new form over still posts a valid one; a press without one is refused."""
    store, owner, pickup, _ = shop
    first, second = issue(owner, store, pickup, quantity=2)
    login(client, "issuer01")
    token = client.csrf_token()
    answer = client.post("/counter/act", headers={**HTMX, "X-CSRFToken": token}, csrf=False, data={
        "action": "redeem", "code": first.code, "ticket_id": first.id, "seen": "unused"})
    assert answer.status_code == 200 and reload(first).status is S.USED
    echoed = re.search(r'name="csrf_token" value="([^"]+)"', text(answer)).group(1)
    assert echoed == token
    data = {"action": "redeem", "code": second.code, "ticket_id": second.id, "seen": "unused"}
    refused = client.post("/counter/act", data=data, csrf=False)
    assert refused.status_code == 400 and reload(second).status is S.UNUSED
    pressed = client.post("/counter/act", data={**data, "csrf_token": echoed}, csrf=False)
    assert pressed.status_code == 200 and reload(second).status is S.USED
