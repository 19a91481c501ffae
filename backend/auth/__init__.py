"""Auth: passkeys bound to wallets, sessions for the listener and the dashboard."""
