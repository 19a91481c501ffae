"""Passkey accounts: the pure functions the backend and tests share with PasskeyAccount.vy.

`eip712` computes the digests the account checks (the WebAuthn challenge);
`webauthn` turns a browser assertion into the `auth` bytes the account decodes.
Neither touches the network or the database.
"""
