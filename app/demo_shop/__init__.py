"""範例商店 (the sample shop): a merchant's own website, served by the development server of
`make run` at /sample-shop/ so a newcomer can buy a voucher and pay with the test card.

It plays the merchant's system: it talks to ectix by HTTP only (it signs an AioCheckOut form the
browser posts to the cashier, receives the ReturnURL notice and the browser's OrderResultURL
post) and never reads ectix's tables or calls its checkout services. Registered (views.init_app)
only when the config DEMO_SHOP is true (env ECTIX_DEMO_SHOP=1) and the app is a debug or test
app: any other app ignores the flag and logs that it did. docs/checkout.md, "The sample shop".

- rules: the pure part (the items, the order number, the AioCheckOut fields);
- received: the notices the shop received, an append-only JSON-lines file;
- views: the pages.
"""
