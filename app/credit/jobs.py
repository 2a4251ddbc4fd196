"""The card back office's daily jobs: the 20:15 close, the day-80 notice and the day-91
abandon. Each takes the schedule's slot, does everything owed up to it (a missed day is caught up
by the next run), commits in chunks or per row, and is safe to run twice: every change is a
compare-and-set on the state it starts from."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import select, update

from app import clock, history
from app.checkout.models import CardTransaction, CheckoutOrder
from app.checkout.models import TransactionStatus as S
from app.credit import calendar, refunds, services
from app.credit.calendar import in_quiet_window  # noqa: F401  (the API asks here too)
from app.credit.models import CardRefund, RefundStatus
from app.credit.states import CLOSE_DAYS, Action
from app.db import db
from app.ecpay.models import IntegrationSettings
from app.errors import DomainError
from app.notifications.services import queue_email
from app.stores.models import Store

CHUNK = 500
UNSCOPED = {"unscoped": True}
SUBJECT = CardTransaction.__tablename__
OVER_DATE = "error_overDate"
NOTICE_KIND = "card_expiry_notice"


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start:start + CHUNK])


def _ids(*where) -> list[int]:  # noqa: ANN002
    ids = list(db.session.scalars(select(CardTransaction.id).where(*where)
                                  .order_by(CardTransaction.id).execution_options(**UNSCOPED)))
    db.session.commit()  # end the read: each chunk is its own transaction
    return ids


def _move(where: list, values: dict, action: str, *, reason: str, from_status: str,
          to_status: str) -> int:
    """Apply `values` to the rows still matching `where`, chunk by chunk (compare-and-set per
    row), with one history entry each; commits per chunk. How many rows moved."""
    moved = 0
    for chunk in _chunks(_ids(*where)):
        done = db.session.execute(
            update(CardTransaction).where(CardTransaction.id.in_(chunk), *where).values(**values)
            .returning(CardTransaction.id, CardTransaction.store_id)
            .execution_options(synchronize_session=False, **UNSCOPED)).all()
        history.record_many(SUBJECT, action,
                            ({"subject_id": d.id, "store_id": d.store_id} for d in done),
                            from_status=from_status, to_status=to_status, reason=reason)
        db.session.commit()
        moved += len(done)
    return moved


def daily_close(slot: str) -> int:
    """Daily at 20:15 Taipei (自動關帳), for what stood at the slot:

    - authorised transactions that may be auto-closed (the transaction's auto_close and its
      store's IntegrationSettings.auto_close, on without a row) are closed when authorised at
      most CLOSE_DAYS Taipei days ago; older ones get close_error error_overDate (once) and stay
      authorised, for the operator;
    - every close-requested transaction (any store, any setting) is closed;
    - the pending refunds of closed transactions are settled.

    Returns how many rows changed (0 when run again for the same slot)."""
    at = datetime.fromisoformat(slot)
    today = clock.business_day(at)
    earliest = clock.day_start(today - timedelta(days=CLOSE_DAYS))
    now = clock.now()
    stores_off = select(IntegrationSettings.store_id).where(
        IntegrationSettings.auto_close.is_(False))
    auto = [CardTransaction.status == S.AUTHORISED, CardTransaction.auto_close.is_(True),
            CardTransaction.store_id.not_in(stores_off), CardTransaction.authorised_at <= at]
    changed = _move(auto + [CardTransaction.authorised_at >= earliest],
                    {"status": S.CLOSED, "closed_at": now, "close_error": ""}, "card_auto_close",
                    reason="每日自動關帳", from_status=S.AUTHORISED.value,
                    to_status=S.CLOSED.value)
    changed += _move(auto + [CardTransaction.authorised_at < earliest,
                             CardTransaction.close_error != OVER_DATE],
                     {"close_error": OVER_DATE, "close_failed_at": now}, "card_close_failed",
                     reason=f"授權已超過 {CLOSE_DAYS} 天，自動關帳失敗（{OVER_DATE}）",
                     from_status=S.AUTHORISED.value, to_status=S.AUTHORISED.value)
    changed += _move([CardTransaction.status == S.CLOSE_REQUESTED,
                      CardTransaction.close_requested_at <= at],
                     {"status": S.CLOSED, "closed_at": now, "close_error": ""}, "card_closed",
                     reason="每日關帳", from_status=S.CLOSE_REQUESTED.value,
                     to_status=S.CLOSED.value)
    owed = list(db.session.scalars(
        select(CardRefund.transaction_id).where(CardRefund.status == RefundStatus.PENDING,
                                                CardRefund.created_at <= at)
        .distinct().order_by(CardRefund.transaction_id).execution_options(**UNSCOPED)))
    db.session.commit()
    for chunk in _chunks(owed):
        settled = refunds.settle(chunk, at)
        history.record_many(SUBJECT, "card_refund_settled", (
            {"subject_id": txn_id, "store_id": store_id,
             "reason": f"退刷 NT${amount:,} 已於每日關帳結算"}
            for txn_id, store_id, amount in settled),
            from_status=S.CLOSED.value, to_status=S.CLOSED.value)
        db.session.commit()
        changed += len(settled)
    return changed


# The day-80 notice -----------------------------------------------------------------------------

def notice_subject(today: date) -> str:
    return f"【ECTicket】信用卡授權即將逾期通知：您有尚未關帳的信用卡交易（{today:%Y/%m/%d}）"


def notice_body(store: Store, rows: list[tuple[CardTransaction, str]]) -> str:
    lines = "\n".join(
        f"- 廠商訂單編號 {no}｜金額 NT${t.amount:,}｜授權日期 {clock.business_day(t.authorised_at):%Y/%m/%d}"
        f"｜將於 {clock.business_day(t.authorised_at) + timedelta(days=calendar.ABANDON_DAYS + 1):%Y/%m/%d}"
        " 自動放棄授權" for t, no in rows)
    return (f"{store.name}（商店代號 {store.merchant_code}）財務聯絡人您好：\n\n"
            f"以下 {len(rows)} 筆信用卡交易授權已滿 {calendar.NOTICE_DAY} 天，仍未關帳：\n\n{lines}\n\n"
            f"授權超過 {CLOSE_DAYS} 天的交易須聯繫客服關帳；授權超過 {calendar.ABANDON_DAYS} 天仍未關帳者，"
            "系統將自動放棄授權，款項不會請款。\n此信件由系統自動發送，請勿直接回覆。")


def day_80_notices(slot: str) -> int:
    """Daily: one e-mail per store to its finance contacts listing its transactions still
    authorised on (or, catching up, after) day 80 and not told of yet. Each transaction is
    marked (expiry_noticed_at, compare-and-set) in the same transaction as the message, so a
    re-run sends nothing twice. Returns how many stores were told."""
    at = datetime.fromisoformat(slot)
    today = clock.business_day(at)
    latest = clock.day_start(today - timedelta(days=calendar.NOTICE_DAY - 1))
    due = [CardTransaction.status == S.AUTHORISED, CardTransaction.authorised_at < latest,
           CardTransaction.expiry_noticed_at.is_(None)]
    stores = list(db.session.scalars(select(CardTransaction.store_id).where(*due).distinct()
                                     .order_by(CardTransaction.store_id)
                                     .execution_options(**UNSCOPED)))
    db.session.commit()
    told = 0
    for store_id in stores:
        marked = db.session.scalars(
            update(CardTransaction).where(CardTransaction.store_id == store_id, *due)
            .values(expiry_noticed_at=clock.now()).returning(CardTransaction.id)
            .execution_options(synchronize_session=False, **UNSCOPED)).all()
        store = db.session.get(Store, store_id)
        if marked and store is not None:
            rows = db.session.execute(
                select(CardTransaction, CheckoutOrder.merchant_trade_no)
                .join(CheckoutOrder, CheckoutOrder.id == CardTransaction.order_id)
                .where(CardTransaction.id.in_(marked))
                .order_by(CardTransaction.authorised_at, CardTransaction.id)
                .execution_options(**UNSCOPED)).all()
            queue_email(store.id, store.finance_emails, notice_subject(today),
                        notice_body(store, [(t, no) for t, no in rows]), kind=NOTICE_KIND)
            told += 1
        db.session.commit()
    return told


# The day-91 abandon --------------------------------------------------------------------------

def auto_abandon(slot: str) -> int:
    """Daily: transactions still authorised more than ABANDON_DAYS Taipei days after their
    authorisation are abandoned (services.perform, so the abandon reactions run), one commit
    each. Returns how many."""
    at = datetime.fromisoformat(slot)
    cutoff = clock.day_start(clock.business_day(at) - timedelta(days=calendar.ABANDON_DAYS))
    done = 0
    for txn_id in _ids(CardTransaction.status == S.AUTHORISED,
                       CardTransaction.authorised_at < cutoff):
        txn = db.session.get(CardTransaction, txn_id, execution_options=UNSCOPED)
        try:
            services.perform(txn, Action.ABANDON, reason=f"授權逾 {calendar.ABANDON_DAYS} 天未關帳，"
                             "系統自動放棄授權")
        except DomainError:  # moved meanwhile
            db.session.rollback()
            continue
        db.session.commit()
        done += 1
    return done
