"""Bills (六 帳單報表): the daily return-fee settlement, monthly bills, what a store owes, payments,
and the reports behind them (docs/billing.md). Built on the charges and rates of `app.billing`."""
