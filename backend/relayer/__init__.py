"""The relayer: gasless claims and passkey-signed sends, paid by RELAYER_KEY within budgets."""
