"""The cross-store relation's state machine (docs/accounts.md 可核銷商店設定 / 聯合票券發行單位).

Pure: no Flask, no database. A relation is (status, dissolved_by, blocked); each move below
either returns the new state or a refusal message in Traditional Chinese.

| move                 | from                                    | to                                  |
|----------------------|-----------------------------------------|-------------------------------------|
| issuer opens         | (none)                                  | open                                |
| issuer opens         | dissolved, not blocked                  | open (dissolved_by cleared)         |
| issuer opens         | dissolved, blocked                      | refused: BLOCKED                    |
| issuer opens         | open                                    | unchanged                           |
| issuer dissolves     | open                                    | dissolved by issuer                 |
| issuer dissolves     | dissolved                               | unchanged                           |
| partner dissolves    | open                                    | dissolved by partner, blocked       |
| partner dissolves    | dissolved                               | refused: ALREADY_DISSOLVED          |
| operator unblocks    | blocked (status stays dissolved)        | not blocked                         |
| operator unblocks    | not blocked                             | refused: NOT_BLOCKED                |
"""

from __future__ import annotations

from dataclasses import dataclass, replace

OPEN = "open"
DISSOLVED = "dissolved"
ISSUER = "issuer"
PARTNER = "partner"

BLOCKED = "此商店已由對方解除關聯，需經對方同意後請聯繫所屬業務解除封鎖"
ALREADY_DISSOLVED = "此關聯已解除"
NOT_BLOCKED = "此關聯未被封鎖"
SELF_PARTNER = "不可將自己的商店設為可核銷商店"
NONE_CHOSEN = "請勾選至少一間商店"

DISSOLVED_BY_LABELS = {ISSUER: "發行單位", PARTNER: "可核銷商店"}


@dataclass(frozen=True)
class RelationState:
    status: str  # OPEN or DISSOLVED
    dissolved_by: str | None = None  # ISSUER or PARTNER while dissolved
    blocked: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status, "dissolved_by": self.dissolved_by,
                "blocked": self.blocked}


class Refused(Exception):
    """A move the rules do not allow; `message` is shown to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


NEW = RelationState(OPEN)


def issuer_open(state: RelationState) -> RelationState:
    """The issuer (re-)opens the relation. Grants are not restored by this."""
    if state.status == OPEN:
        return state
    if state.blocked:
        raise Refused(BLOCKED)
    return RelationState(OPEN)


def issuer_dissolve(state: RelationState) -> RelationState:
    if state.status == DISSOLVED:
        return state
    return RelationState(DISSOLVED, dissolved_by=ISSUER, blocked=False)


def partner_dissolve(state: RelationState) -> RelationState:
    """The partner ends the relation: the issuer may not re-open until the operator unblocks."""
    if state.status == DISSOLVED:
        raise Refused(ALREADY_DISSOLVED)
    return RelationState(DISSOLVED, dissolved_by=PARTNER, blocked=True)


def operator_unblock(state: RelationState) -> RelationState:
    """The operator lifts the block (after the partner agreed); the relation stays dissolved."""
    if not state.blocked:
        raise Refused(NOT_BLOCKED)
    return replace(state, blocked=False)


def dissolved_by_label(value: str | None) -> str:
    return DISSOLVED_BY_LABELS.get(value or "", "")


# Words for history entries ----------------------------------------------------------------------

FIELD_LABELS = {"status": "關聯狀態", "dissolved_by": "解除方", "blocked": "封鎖",
                "partner_store": "可核銷商店", "partner_stores": "可核銷商店"}
STATUS_LABELS = {OPEN: "開啟", DISSOLVED: "解除關聯"}


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name)


def value_label(name: str, value: object) -> str:
    """A recorded value in words: 開啟 / 解除關聯, 發行單位 / 可核銷商店, 是 / 否."""
    if value is None or value == []:
        return "—"
    if name == "status":
        return STATUS_LABELS.get(str(value), str(value))
    if name == "dissolved_by":
        return dissolved_by_label(str(value))
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)
