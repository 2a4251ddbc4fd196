"""Saved filters (儲存的篩選條件, "saved views"): an account keeps named queries of a report or
list page and applies one with a click. Platform layer: the pages above opt in (`pages.offered`),
this package never imports them."""
