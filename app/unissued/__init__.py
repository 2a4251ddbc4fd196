"""7-2 未發行訂單管理: ticket orders paid by card and not issued yet, until they are issued
(the card authorisation is then captured), abandoned by the merchant, or cancelled by the
platform on the 30th day."""
