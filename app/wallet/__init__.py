"""The consumer's e-ticket wallet (電子票夾, domain §7): public pages behind a link token."""
