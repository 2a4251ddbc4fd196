"""The hand-built fixture of the circulation, cross-store and branch report tests.

Real tickets issued through the issuance service on a frozen clock, redeemed, returned and
cancelled through app.tickets.services, two nights of the bank escrow sync (in-process
simulator), and the report read on 2026/11/21 (Taipei). `build()` asserts every ticket's status
as planned, so the expected figures in the tests below can be read off this table:

store 甲 (A, a child of 母商店 P), branches A1 台北門市 and A2 台中門市; issuer 乙 (X) grants its
product to A and to 丙 (Z).

| name | issued (Taipei)   | by    | product     | what happened                                    | status 11/21            |
|------|-------------------|-------|-------------|--------------------------------------------------|-------------------------|
| pre  | 09/30 23:30       | owner | P150 pickup | –                                                | unused (outside Oct)    |
| H1   | 10/01 00:10       | owner | P150        | owner redeems 10/02                              | redeemed (bank)         |
| H2   | 10/01 00:10       | owner | P150        | clerk1 (A1) returns 10/10                        | returned (bank)         |
| H3   | 10/01 00:10       | owner | P150        | –                                                | unused                  |
| B1a  | 10/05 10:00       | A1    | P150        | clerk1 (A1) redeems 10/06                        | redeemed                |
| B1b  | 10/05 10:00       | A1    | P150        | clerk2 (A2) redeems 10/07                        | redeemed                |
| B1c  | 10/05 10:00       | A1    | P150        | owner returns 10/08 (fee 20)                     | returned                |
| B1d  | 10/05 10:00       | A1    | P150        | clerk1 returns 10/14, cancels the return         | unused                  |
| S1   | 10/05 10:00       | A1    | SP200 (escrow end 11/15) | –                                   | unused_escrow_expired*  |
| S2   | 10/05 10:00       | A1    | SP200       | clerk1 redeems 11/18                             | used_after_expiry       |
| S3   | 10/05 10:00       | A1    | SP200       | owner returns 11/18                              | returned_escrow_expired |
| B2a  | 10/06 11:00       | A2    | G80 gift    | clerk2 redeems 10/07                             | redeemed (finalised)    |
| B2b  | 10/06 11:00       | A2    | G80         | –                                                | unused                  |
| E1   | 10/06 11:00       | A2    | SG50 gift (valid to 11/15) | –                                 | expired*                |
| E2   | 10/06 11:00       | A2    | SG50        | clerk2 redeems 10/20                             | used                    |
| L1   | 10/31 23:50       | owner | G80         | –                                                | unused                  |
| post | 11/01 00:00       | owner | P150        | –                                                | unused (outside Oct)    |
| X1   | 10/01 09:00 (乙)   | –     | XP300       | clerk1 (A1) redeems 10/11                        | redeemed                |
| X2   | 10/01 09:00 (乙)   | –     | XP300       | A's owner redeems 10/11                          | redeemed                |
| X3   | 10/01 09:00 (乙)   | –     | XP300       | clerk2 (A2) redeems 10/12 10:00, cancels 18:00   | unused                  |
| X4   | 10/01 09:00 (乙)   | –     | XP300       | 丙 redeems 10/12                                  | redeemed                |
| X5   | 10/01 09:00 (乙)   | –     | XP300       | clerk1 (A1) redeems 11/18                        | used                    |

(* read-time expiry: the daily job has not written it; reports must count it so anyway.)
The bank sync runs the nights of 10/16 (deposits, gift finalisation) and 10/17 (redemptions
and refunds of what was deposited).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from app import clock
from app.auth.permissions import Function, Level
from app.db import db
from app.escrow.jobs import run_sync
from app.escrow.simulator import InProcessBank, make_simulator
from app.products.models import ProductKind
from app.stores.models import Branch, Store
from app.tickets import services
from app.tickets.models import Ticket
from app.tickets.status import TicketStatus as S
from tests.factories import (
    link_product,
    make_account,
    make_branch,
    make_product,
    make_relation,
    make_store,
    make_sub,
)
from tests.issuance.helpers import ready_store
from tests.settings.helpers import mark_complete
from tests.tickets.helpers import issue

T = clock.taipei_datetime
TODAY = T(2026, 11, 21, 10, 0)  # when the reports are read
OCT = {"start": "2026-10-01", "end": "2026-10-31"}
NOV = {"start": "2026-11-01", "end": "2026-11-30"}

REPORTS = {Function.REPORT_CIRCULATION: Level.VIEW, Function.REPORT_CROSS_STORE: Level.VIEW,
           Function.REPORT_BRANCH: Level.VIEW}
WORK = {Function.ISSUANCE: Level.MODIFY, Function.REDEEM: Level.MODIFY,
        Function.CANCEL_REDEMPTION: Level.MODIFY, Function.RETURN: Level.MODIFY,
        Function.CANCEL_RETURN: Level.MODIFY}

PLANNED = {
    "pre": S.UNUSED, "H1": S.REDEEMED, "H2": S.RETURNED, "H3": S.UNUSED,
    "B1a": S.REDEEMED, "B1b": S.REDEEMED, "B1c": S.RETURNED, "B1d": S.UNUSED,
    "S1": S.UNUSED_ESCROW_EXPIRED, "S2": S.USED_AFTER_EXPIRY, "S3": S.RETURNED_ESCROW_EXPIRED,
    "B2a": S.REDEEMED, "B2b": S.UNUSED, "E1": S.EXPIRED, "E2": S.USED, "L1": S.UNUSED,
    "post": S.UNUSED,
    "X1": S.REDEEMED, "X2": S.REDEEMED, "X3": S.UNUSED, "X4": S.REDEEMED, "X5": S.USED,
}


@dataclass
class World:
    parent: Store
    a: Store
    x: Store
    z: Store
    a1: Branch
    a2: Branch
    tickets: dict[str, Ticket] = field(default_factory=dict)

    def ids(self) -> dict:
        return {"stores": [s.id for s in (self.parent, self.a, self.x, self.z)],
                "branches": [self.a1.id, self.a2.id],
                "tickets": {n: t.id for n, t in self.tickets.items()}}

    @classmethod
    def load(cls, ids: dict) -> World:
        """The world built once (see conftest.py), read back in this test's session."""
        stores = [db.session.get(Store, i) for i in ids["stores"]]
        branches = [db.session.get(Branch, i) for i in ids["branches"]]
        found = {t.id: t for t in db.session.scalars(
            select(Ticket).where(Ticket.id.in_(ids["tickets"].values())).execution_options(unscoped=True))}
        return cls(*stores, *branches, tickets={n: found[i] for n, i in ids["tickets"].items()})

    def serial(self, name: str) -> str:
        return self.tickets[name].serial

    def serials_in_order(self, *names: str) -> list[str]:
        return [self.serial(n) for n in names]


def build(bank_state: str) -> World:
    """Build the world in the current app context (SQLite or PostgreSQL); leaves the clock at
    TODAY."""
    clock.freeze(T(2026, 9, 1, 9, 0))
    parent = make_store("母商店")
    make_account(parent, username="parent01")
    mark_complete(parent)
    a, owner, p150, g80 = ready_store("aowner01", name="報表商店甲", parent=parent)
    sp200 = make_product(a, "短期提貨券", kind=ProductKind.PICKUP, face_value=200,
                         end=date(2026, 11, 15))
    sg50 = make_product(a, "短期贈品券", kind=ProductKind.GIFT, face_value=50, end=date(2026, 11, 15))
    a1 = make_branch(a, "A001", "台北門市")
    a2 = make_branch(a, "A002", "台中門市")
    clerk1 = make_sub(a, "aclerk01", branch=a1, grants=WORK | REPORTS)
    clerk2 = make_sub(a, "aclerk02", branch=a2, grants=WORK | REPORTS)
    make_sub(a, "aviewer01", grants=REPORTS)  # unbound: any branch, reports only
    make_sub(a, "anoperm01", grants=WORK)  # no report rights

    x, x_owner, xp, _ = ready_store("xowner01", name="發行商店乙")
    xp.name, xp.face_value = "乙提貨券", 300  # not issued yet: still editable
    z = make_store("無關商店丙")
    z_owner = make_account(z, username="zowner01", grants={})
    for partner in (a, z):
        make_relation(x, partner)
        link_product(xp, partners=[partner])
    db.session.commit()

    w = World(parent, a, x, z, a1, a2)

    def at(*when: int) -> None:
        clock.freeze(T(*when))

    def name(names: str, tickets: list[Ticket]) -> None:
        for n, t in zip(names.split(), tickets, strict=True):
            w.tickets[n] = t

    def commit() -> None:
        db.session.commit()

    at(2026, 9, 30, 23, 30)
    name("pre", issue(owner, a, p150))
    at(2026, 10, 1, 0, 10)
    name("H1 H2 H3", issue(owner, a, p150, 3))
    at(2026, 10, 1, 9, 0)
    name("X1 X2 X3 X4 X5", issue(x_owner, x, xp, 5))
    at(2026, 10, 5, 10, 0)
    name("B1a B1b B1c B1d", issue(clerk1, a, p150, 4))
    name("S1 S2 S3", issue(clerk1, a, sp200, 3))
    at(2026, 10, 6, 11, 0)
    name("B2a B2b", issue(clerk2, a, g80, 2))
    name("E1 E2", issue(clerk2, a, sg50, 2))
    at(2026, 10, 31, 23, 50)
    name("L1", issue(owner, a, g80))
    at(2026, 11, 1, 0, 0)
    name("post", issue(owner, a, p150))

    t = w.tickets
    at(2026, 10, 2, 10, 0)
    services.redeem(owner, a, t["H1"])
    commit()
    at(2026, 10, 6, 12, 0)
    services.redeem(clerk1, a, t["B1a"])
    commit()
    at(2026, 10, 7, 12, 0)
    services.redeem(clerk2, a, t["B1b"])
    commit()
    at(2026, 10, 7, 13, 0)
    services.redeem(clerk2, a, t["B2a"])
    commit()
    at(2026, 10, 8, 14, 0)
    services.return_ticket(owner, a, t["B1c"], reason="顧客退貨", fee=20)
    commit()
    at(2026, 10, 10, 15, 0)
    services.return_ticket(clerk1, a, t["H2"], reason="顧客退貨")
    commit()
    at(2026, 10, 11, 10, 0)
    services.redeem(clerk1, a, t["X1"])
    services.redeem(owner, a, t["X2"])
    commit()
    at(2026, 10, 12, 10, 0)
    services.redeem(clerk2, a, t["X3"])
    services.redeem(z_owner, z, t["X4"])
    commit()
    at(2026, 10, 12, 18, 0)
    services.cancel_redemption(clerk2, a, t["X3"], reason="刷錯")
    commit()
    at(2026, 10, 14, 10, 0)
    services.return_ticket(clerk1, a, t["B1d"], reason="誤按")
    commit()
    at(2026, 10, 14, 11, 0)
    services.cancel_return(clerk1, a, t["B1d"], reason="誤按退貨")
    commit()

    bank = InProcessBank(make_simulator(bank_state))
    for night in (16, 17):
        at(2026, 10, night, 1, 0)
        run_sync(date(2026, 10, night), bank=bank)

    at(2026, 10, 20, 9, 0)
    services.redeem(clerk2, a, t["E2"])
    commit()
    at(2026, 11, 18, 10, 0)
    services.redeem(clerk1, a, t["S2"])
    services.redeem(clerk1, a, t["X5"])
    commit()
    at(2026, 11, 18, 11, 0)
    services.return_ticket(owner, a, t["S3"], reason="逾期退貨")
    commit()

    clock.freeze(TODAY)
    db.session.expire_all()
    ids = {n: ticket.id for n, ticket in t.items()}
    fresh = {tk.id: tk for tk in db.session.scalars(
        select(Ticket).where(Ticket.id.in_(ids.values())).execution_options(unscoped=True))}
    w.tickets = {n: fresh[i] for n, i in ids.items()}
    got = {n: tk.current_status for n, tk in w.tickets.items()}
    assert got == PLANNED
    assert w.tickets["S1"].status is S.UNUSED and w.tickets["E1"].status is S.UNUSED  # read-time only
    return w
