"""Ticket statuses and their groups (docs/tickets.md): the vocabulary the lifecycle, the models and
every screen share, with no dependency of its own."""

from __future__ import annotations

import enum


class TicketStatus(enum.Enum):
    UNUSED = "unused"  # 未使用
    UNUSED_ESCROW_EXPIRED = "unused_escrow_expired"  # 未使用且價金保管逾期
    USED = "used"  # 已使用
    REDEEMING = "redeeming"  # 核銷中
    REDEEMED = "redeemed"  # 已核銷
    USED_AFTER_EXPIRY = "used_after_expiry"  # 逾期兌回
    RETURN_PENDING = "return_pending"  # 待退貨
    RETURNING = "returning"  # 退貨中
    RETURNED = "returned"  # 已退貨
    RETURNED_ESCROW_EXPIRED = "returned_escrow_expired"  # 已退貨且價金保管逾期
    EXPIRED = "expired"  # 已失效

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def group(self) -> StatusGroup:
        return next(g for g, members in STATUS_GROUPS.items() if self in members)


class StatusGroup(enum.Enum):
    UNUSED = "unused"  # 未使用
    REDEEMED = "redeemed"  # 核銷
    RETURNED = "returned"  # 退貨
    EXPIRED = "expired"  # 失效

    @property
    def label(self) -> str:
        return {"unused": "未使用", "redeemed": "核銷", "returned": "退貨", "expired": "失效"}[self.value]


S = TicketStatus
STATUS_LABELS = {
    S.UNUSED: "未使用", S.UNUSED_ESCROW_EXPIRED: "未使用且價金保管逾期", S.USED: "已使用",
    S.REDEEMING: "核銷中", S.REDEEMED: "已核銷", S.USED_AFTER_EXPIRY: "逾期兌回",
    S.RETURN_PENDING: "待退貨", S.RETURNING: "退貨中", S.RETURNED: "已退貨",
    S.RETURNED_ESCROW_EXPIRED: "已退貨且價金保管逾期", S.EXPIRED: "已失效",
}
STATUS_GROUPS = {
    StatusGroup.UNUSED: (S.UNUSED, S.UNUSED_ESCROW_EXPIRED),
    StatusGroup.REDEEMED: (S.USED, S.REDEEMING, S.REDEEMED, S.USED_AFTER_EXPIRY),
    StatusGroup.RETURNED: (S.RETURN_PENDING, S.RETURNING, S.RETURNED, S.RETURNED_ESCROW_EXPIRED),
    StatusGroup.EXPIRED: (S.EXPIRED,),
}
