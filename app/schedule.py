"""The one table of recurring jobs. Cron fields are read on a Taipei wall clock.

Each job takes the slot it runs for (an ISO timestamp) and must process everything eligible up
to then, not only "since the previous slot", and be safe to run twice: a slot missed while no
worker ran is caught up by the next tick with a single run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recurring:
    name: str
    cron: str
    func: str  # "module:function", called with the slot's ISO timestamp
    description: str


SCHEDULE: list[Recurring] = [
    Recurring(
        "prune_login_events",
        "30 3 * * *",
        "app.auth.jobs:prune_login_events",
        "每日 03:30 刪除一年以前的登入歷程",
    ),
    Recurring(
        "prune_idempotency_keys",
        "15 4 * * *",
        "app.api.idempotency:prune",
        "每日 04:15 刪除 24 小時以前的 API 冪等鍵",
    ),
    Recurring(
        "expire_tickets",
        "5 0 * * *",
        "app.tickets.jobs:expire_tickets",
        "每日 00:05 將逾期票券改為價金保管逾期／已失效",
    ),
    Recurring(
        "prune_exports",
        "45 4 * * *",
        "app.reports.export:prune",
        "每日 04:45 刪除 7 天以前的報表匯出檔案",
    ),
    Recurring(
        "escrow_sync",
        "0 1 * * *",
        "app.escrow.jobs:nightly_sync",
        "每日 01:00 同步價金保管銀行（核銷、退貨、存入）",
    ),
    Recurring(
        "multi_print_reminder",
        "0 21 * * *",
        "app.printing.jobs:send_multi_print_reminders",
        "每日 21:00 寄送票券多次列印提醒（前一日 21:00 至當日 21:00 列印超過一次的票券）給帳務聯絡人",
    ),
]


def by_name(name: str) -> Recurring:
    for rec in SCHEDULE:
        if rec.name == name:
            return rec
    raise KeyError(name)
