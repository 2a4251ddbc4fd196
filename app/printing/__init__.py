"""Paper tickets (7-3 D 紙本票券列印): print-ready PDFs, print runs and the multi-print reminder."""
