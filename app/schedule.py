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
    keep_runs: bool = True  # False: a finished run replaces the earlier finished ones (frequent jobs)


SCHEDULE: list[Recurring] = [
    Recurring(
        "settle_returns",
        "30 2 * * *",
        "app.bills.jobs:settle_returns",
        "每日 02:30 結算前一日（及未結算日）的退貨作業費，每店每日四捨五入一次",
    ),
    Recurring(
        "issue_bills",
        "0 3 1 * *",
        "app.bills.jobs:issue_bills",
        "每月 1 日 03:00 產生上個月的帳單（出帳日），並寄送帳單通知",
    ),
    Recurring(
        "prune_login_events",
        "30 3 * * *",
        "app.auth.jobs:prune_login_events",
        "每日 03:30 刪除一年以前的登入歷程及已過期的嘗試次數計數",
    ),
    Recurring(
        "prune_idempotency_keys",
        "15 4 * * *",
        "app.api.jobs:prune_idempotency_keys",
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
        "app.reports.jobs:prune_exports",
        "每日 04:45 刪除 7 天以前的報表匯出檔案",
    ),
    Recurring(
        "installment_redemption",
        "10 0 * * *",
        "app.installments.jobs:redeem_due_periods",
        "每日 00:10 將已到預計核銷日的分期序號自動核銷（未使用 → 核銷中，於 01:00 送銀行）",
    ),
    Recurring(
        "unissued_cancel",
        "20 0 * * *",
        "app.unissued.jobs:cancel_overdue",
        "每日 00:20 取消交易後第 30 天仍未發行的票券訂單，並放棄其信用卡授權",
    ),
    Recurring(
        "unissued_reminders",
        "0 9 * * *",
        "app.unissued.jobs:send_reminders",
        "每日 09:00 寄送待發行通知信（交易滿 7 天及滿 19 天仍未發行的票券訂單）給財務聯絡人",
    ),
    Recurring(
        "credit_daily_close",
        "15 20 * * *",
        "app.credit.jobs:daily_close",
        "每日 20:15 信用卡自動關帳（授權 21 天內者；逾期者標示 error_overDate），"
        "關帳所有要關帳的交易，並結算待結算的退刷",
    ),
    Recurring(
        "credit_expiry_notices",
        "5 9 * * *",
        "app.credit.jobs:day_80_notices",
        "每日 09:05 寄送信用卡授權即將逾期通知（授權滿 80 天仍未關帳的交易）給財務聯絡人",
    ),
    Recurring(
        "credit_auto_abandon",
        "30 0 * * *",
        "app.credit.jobs:auto_abandon",
        "每日 00:30 放棄授權超過 90 天仍未關帳的信用卡交易",
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
    # Sweepers: work whose job died (its lease ran out, see app.jobs) is queued again or failed,
    # within LEASE plus a minute. A sweep keeps only its latest run and its failures.
    Recurring(
        "sweep_batches",
        "* * * * *",
        "app.issuance.jobs:sweep_batches",
        "每分鐘 將中斷的發行作業（發行中、排隊中）重新排入發行，中斷 3 次則標示發行失敗",
        keep_runs=False,
    ),
    Recurring(
        "sweep_installment_batches",
        "* * * * *",
        "app.installments.jobs:sweep_batches",
        "每分鐘 將中斷的分期核銷訂單發行作業重新排入發行，中斷 3 次則標示發行失敗",
        keep_runs=False,
    ),
    Recurring(
        "sweep_exports",
        "* * * * *",
        "app.reports.jobs:sweep_exports",
        "每分鐘 將中斷的 Excel 匯出重新排入產生，中斷 3 次則標示失敗",
        keep_runs=False,
    ),
    Recurring(
        "sweep_sync_runs",
        "* * * * *",
        "app.escrow.jobs:sweep_sync_runs",
        "每分鐘 將中斷的價金保管同步標示失敗並自動重新執行（最多 3 次）",
        keep_runs=False,
    ),
    Recurring(
        "installment_refund_notices",
        "* * * * *",
        "app.installments.jobs:refund_notices",
        "每分鐘 建立分期核銷訂單的退款結果通知，發送到期的通知"
        "（失敗依 1 分、5 分、30 分、2 時、6 時、15 時重試），並收回發送中斷的通知",
        keep_runs=False,
    ),
    Recurring(
        "checkout_payment_notices",
        "* * * * *",
        "app.checkout.jobs:payment_notices",
        "每分鐘 發送到期的信用卡付款結果通知（ReturnURL；失敗於 5 分、15 分、30 分後重試，"
        "之後兩日每日 09、13、17、21 時各一次），並收回發送中斷的通知",
        keep_runs=False,
    ),
    Recurring(
        "ecticket_notices",
        "* * * * *",
        "app.ecticket.jobs:notices_due",
        "每分鐘 發送到期的 ECTicket 退款通知、使用狀態通知（失敗於 5 分、15 分、30 分後重試，"
        "之後兩日每日 09、13、17、21 時各一次），並收回發送中斷的通知",
        keep_runs=False,
    ),
    Recurring(
        "fold_figures",
        "* * * * *",
        "app.reports.jobs:fold_figures",
        "每分鐘 將票券與訂單的每日統計異動併入報表的每日統計（首頁、分店報表、流通報表）",
        keep_runs=False,
    ),
    Recurring(
        "sweep_messages",
        "* * * * *",
        "app.notifications.jobs:sweep_messages",
        "每分鐘 將發送中斷的電子郵件、簡訊重新排入發送，中斷 3 次則標示發送失敗",
        keep_runs=False,
    ),
    Recurring(
        "read_bounces",
        "*/5 * * * *",
        "app.notifications.jobs:read_bounces",
        "每 5 分鐘 讀取退信信箱（BOUNCE_POP3_HOST）的郵件傳遞狀態通知，將退信的電子郵件標示為發送失敗"
        "（附原因），回報送達者標示為已送達；未設定退信信箱時不執行任何動作",
        keep_runs=False,
    ),
]


def by_name(name: str) -> Recurring:
    for rec in SCHEDULE:
        if rec.name == name:
            return rec
    raise KeyError(name)
