"""Who may act: user accounts and API keys."""
