"""umbral-accounts: user accounts. Models live in :mod:`umbral_accounts.models`."""
