"""What a handler of an ECTicket call is given: the accepted request (its store, fields and
key pair) and the caller's address. A handler gives a protocol.Result or raises
protocol.Refused; it flushes, never commits (the view commits a Result that changed
something)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.ecpay.json_api import Request
from app.ecticket.protocol import Result
from app.stores.models import Store


@dataclass(frozen=True)
class Call:
    request: Request
    remote_ip: str

    @property
    def store(self) -> Store:
        return self.request.store

    @property
    def fields(self) -> dict:
        return self.request.fields


Handler = Callable[[Call], Result]
