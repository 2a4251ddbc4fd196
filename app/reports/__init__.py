"""Reports (domain §10): home dashboards, circulation, tickets, cross-store and branch reports."""
