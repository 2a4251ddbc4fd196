"""Return applications (申請退貨) made by consumers from the e-ticket wallet (docs/consumers.md)."""
