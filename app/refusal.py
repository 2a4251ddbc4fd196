"""A named refusal: what a rule answers instead of a move (a code for machines, a message for
people). Shared by the pure rule modules (who may act; what may happen to a ticket)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str

    def __str__(self) -> str:
        return self.message
