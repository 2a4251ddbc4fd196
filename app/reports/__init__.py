"""Reports (docs/reports.md): home dashboards, circulation, tickets, cross-store and branch reports."""
