"""ECPay-compatible protocol pieces shared by every adapter (platform layer): the AioCheckOut
CheckMacValue, the AES envelope of the card back-office and ECTicket APIs, and each store's
integration keys (系統介接設定: MerchantID, HashKey, HashIV) kept sealed at rest."""
