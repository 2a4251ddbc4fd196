"""The consumer's e-ticket wallet (電子票夾, docs/consumers.md): public pages behind a link token."""
