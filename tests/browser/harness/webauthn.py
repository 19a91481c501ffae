"""Virtual authenticators (CDP WebAuthn domain): passkeys with no hardware and no prompt."""

from __future__ import annotations

from typing import Any

from tests.browser.harness.page import Page


class VirtualAuthenticator:
    def __init__(self, page: Page, authenticator_id: str):
        self.page = page
        self.id = authenticator_id

    @classmethod
    async def add(
        cls,
        page: Page,
        *,
        protocol: str = "ctap2",
        ctap2_version: str = "ctap2_1",
        transport: str = "internal",
        has_resident_key: bool = True,
        has_user_verification: bool = True,
        is_user_verified: bool = True,
        automatic_presence_simulation: bool = True,
    ) -> VirtualAuthenticator:
        """A platform passkey authenticator (the defaults) on this tab; prompts answer at once."""
        await page.send("WebAuthn.enable", enableUI=False)
        options = {
            "protocol": protocol,
            "ctap2Version": ctap2_version,
            "transport": transport,
            "hasResidentKey": has_resident_key,
            "hasUserVerification": has_user_verification,
            "isUserVerified": is_user_verified,
            "automaticPresenceSimulation": automatic_presence_simulation,
        }
        answer = await page.send("WebAuthn.addVirtualAuthenticator", options=options)
        return cls(page, answer["authenticatorId"])

    async def credentials(self) -> list[dict[str, Any]]:
        """Stored credentials: credentialId, privateKey (PKCS#8), signCount, userHandle..."""
        answer = await self.page.send("WebAuthn.getCredentials", authenticatorId=self.id)
        return list(answer["credentials"])

    async def add_credential(self, credential: dict[str, Any]) -> None:
        """Store a credential as given (e.g. one exported earlier, to play a clone)."""
        await self.page.send(
            "WebAuthn.addCredential", authenticatorId=self.id, credential=credential
        )

    async def remove_credential(self, credential_id: str) -> None:
        await self.page.send(
            "WebAuthn.removeCredential", authenticatorId=self.id, credentialId=credential_id
        )

    async def set_user_verified(self, verified: bool) -> None:
        await self.page.send(
            "WebAuthn.setUserVerified", authenticatorId=self.id, isUserVerified=verified
        )

    async def override_response_bits(
        self, *, bogus_signature: bool = False, bad_uv: bool = False, bad_up: bool = False
    ) -> None:
        """Corrupt the next responses: a wrong signature, or the UV / UP flag cleared."""
        await self.page.send(
            "WebAuthn.setResponseOverrideBits",
            authenticatorId=self.id,
            isBogusSignature=bogus_signature,
            isBadUV=bad_uv,
            isBadUP=bad_up,
        )

    async def remove(self) -> None:
        await self.page.send("WebAuthn.removeVirtualAuthenticator", authenticatorId=self.id)
