"""Fixtures of the wallet tests: a store with an issued electronic order of three pickup vouchers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.products.models import Product
from app.stores.models import Store
from app.tickets.models import Order
from tests.wallet.helpers import issue_order, shop


@dataclass
class Shop:
    store: Store
    owner: object
    pickup: Product
    gift: Product
    order: Order

    @property
    def token(self) -> str:
        return self.order.link_token


@pytest.fixture
def bought(ctx) -> Shop:  # noqa: ANN001
    store, owner, pickup, gift = shop(returns=True)
    order = issue_order(owner, store, pickup, quantity=3)
    return Shop(store, owner, pickup, gift, order)
