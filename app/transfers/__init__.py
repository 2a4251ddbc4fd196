"""Transfers (轉贈) of electronic pickup vouchers from one holder to another (docs/consumers.md, 7-3 K)."""
