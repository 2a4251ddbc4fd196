"""Card checkout compatible with ECPay's AioCheckOut V5: the hosted cashier pages, the acquirer
adapter, the card transactions it creates and the result notices (docs/checkout.md)."""
