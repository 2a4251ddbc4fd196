"""The four counter pages (7-3 E 票券核銷, F 取消核銷, G 票券退貨, H 取消退貨).

The rules live in the ticket action table (`app.tickets.actions`: rights, status machine,
compare-and-set); this module only knows the pages — which action each performs, its words —
and the brute-force guard around a code lookup. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from app import ratelimit
from app.auth.permissions import Function
from app.errors import NotFound
from app.stores.models import Store
from app.tickets import services as tickets
from app.tickets.actions import ACTIONS, Reason, TicketAction
from app.tickets.lifecycle import Action
from app.tickets.models import Ticket
from app.tickets.plain import TicketRow


@dataclass(frozen=True)
class CounterPage:
    """One counter page: its URL slug, menu endpoint, the ticket action it performs, its title
    (the menu's label), its one button and a hint. The rules are the action's."""

    slug: str
    endpoint: str
    action: TicketAction
    title: str
    button: str
    hint: str = ""
    confirm: str = ""  # a box the clerk must tick before the button acts (none when empty)

    @property
    def key(self) -> Action:
        return self.action.key

    @property
    def function(self) -> Function:
        return self.action.function

    @property
    def reason(self) -> Reason:
        return self.action.reason

    @property
    def reason_label(self) -> str:
        return self.action.reason_label


PAGES: dict[str, CounterPage] = {p.slug: p for p in (
    CounterPage("redeem", "counter.redeem", ACTIONS[Action.REDEEM], "票券核銷", "核銷",
                hint="輸入或掃描完整核銷代碼後按 Enter 查詢，確認票券後按【核銷】。"),
    CounterPage("cancel-redemption", "counter.cancel_redemption", ACTIONS[Action.CANCEL_REDEMPTION],
                "取消核銷", "取消核銷",
                hint="僅「已使用」（限核銷當日 23:59 前）與「逾期兌回」的提貨券可以取消核銷。",
                confirm="我確認要取消此票券的核銷"),
    CounterPage("return", "counter.return_ticket", ACTIONS[Action.RETURN], "票券退貨", "退貨",
                hint="僅發行單位可以退貨；僅價金保管期間內的提貨券可以設定退貨手續費。"),
    CounterPage("cancel-return", "counter.cancel_return", ACTIONS[Action.CANCEL_RETURN],
                "取消退貨", "取消退貨", hint="「待退貨」的票券限退貨當日 23:59 前取消。"),
)}
BY_ACTION: dict[Action, CounterPage] = {p.key: p for p in PAGES.values()}


# The brute-force guard ---------------------------------------------------------------------

def find(store: Store, typed: str, *, account_id: int, plain: bool = False) -> Ticket | TicketRow:
    """The ticket a clerk typed or scanned, behind the brute-force guard (`plain`: as a plain
    row, for a redemption press, which reads nothing else of it: app.tickets.plain).

    Refused (429) while this account is over its limit of failed lookups, before looking
    anything up. A code that finds nothing this store may see (unknown, another store's, or
    malformed: one answer, the same-answer rule of `tickets.find_by_code`) counts one failure
    for the account; a found ticket (or an empty field) counts nothing. Only the account's own
    count: a branch's clerks share an address, and one clerk's typos must not stop the others
    (an attacker needs an account, and each account is limited).
    """
    ratelimit.check(ratelimit.UNKNOWN_CODE_PER_ACCOUNT, account_id)
    try:
        return (tickets.find_row_by_code if plain else tickets.find_by_code)(store, typed)
    except NotFound:
        ratelimit.count_failure(ratelimit.UNKNOWN_CODE_PER_ACCOUNT, account_id)
        raise


# What the card shows ----------------------------------------------------------------------

def mask_mobile(mobile: str | None) -> str:
    """0912345678 → 0912***678: enough for the clerk to ask, not enough to copy."""
    text = mobile or ""
    if len(text) < 8:
        return "*" * len(text)
    return f"{text[:4]}***{text[-3:]}"
