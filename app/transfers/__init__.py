"""Transfers (轉贈) of electronic pickup vouchers from one holder to another (domain §7, 7-3 K)."""
