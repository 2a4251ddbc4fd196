"""Installment redemption (八 分期核銷): orders released to the merchant period by period
(docs/installments.md)."""
