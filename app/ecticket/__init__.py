"""The ECTicket-compatible merchant API (`/api/Ticket/*`, `/api/issuance/*`): ECPay's ECTicket
calls in its AES envelope with CheckMacValue, answered by the same services as the pages and
/api/v1. docs/ecticket-api.md is the reference."""
