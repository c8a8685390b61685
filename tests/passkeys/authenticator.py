"""A software WebAuthn authenticator that signs with a real EC P-256 key (ES256).

``create`` answers registration options with a ``none`` attestation, ``get`` answers
authentication options with a signed assertion, both in the JSON shape of
``PublicKeyCredential.toJSON()``. Keyword arguments let a test tamper with what a real browser
and authenticator would send (origin, RP id, counter, challenge, flags, user handle).
"""

import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
ORIGIN = "http://127.0.0.1:8000"  # the test settings' base_url
RP_ID = "127.0.0.1"
AAGUID = bytes.fromhex("ea9b8d664d011d213ce4b6b48cb575d4")  # any 16 bytes


def b64(data: bytes) -> str:
    return bytes_to_base64url(data)


@dataclass
class SoftwareAuthenticator:
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    sign_count: int = 0
    counting: bool = True  # False: a synced passkey, whose counter stays 0
    backup: bool = False  # backup eligible and backed up (a synced passkey)
    user_handle: bytes | None = None

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _next_count(self, counter: int | None) -> int:
        if counter is not None:
            return counter
        if self.counting:
            self.sign_count += 1
        return self.sign_count

    def _flags(self, *, uv: bool, attested: bool) -> int:
        flags = UP | (UV if uv else 0) | (AT if attested else 0)
        return flags | (BE | BS if self.backup else 0)

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()

    def create(
        self,
        options: dict[str, Any],
        origin: str = ORIGIN,
        rp_id: str | None = None,
        *,
        challenge: str | None = None,
        counter: int | None = None,
        uv: bool = True,
        kind: str = "webauthn.create",
    ) -> dict[str, Any]:
        """A registration response for ``options`` (the JSON registration options)."""
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        client_data = self._client_data(kind, challenge or options["challenge"], origin)
        rp_hash = hashlib.sha256((rp_id or options["rp"]["id"]).encode()).digest()
        auth_data = (
            rp_hash
            + bytes([self._flags(uv=uv, attested=True)])
            + struct.pack(">I", self._next_count(counter))
            + AAGUID
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self.cose_key()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data),
                "attestationObject": b64(attestation),
                "transports": ["internal", "hybrid"],
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    def get(
        self,
        options: dict[str, Any],
        origin: str = ORIGIN,
        rp_id: str | None = None,
        *,
        challenge: str | None = None,
        counter: int | None = None,
        uv: bool = True,
        user_handle: bytes | None = None,
        send_user_handle: bool = True,
        kind: str = "webauthn.get",
    ) -> dict[str, Any]:
        """An assertion for ``options`` (the JSON authentication options), signed with the key."""
        client_data = self._client_data(kind, challenge or options["challenge"], origin)
        rp_hash = hashlib.sha256((rp_id or options["rpId"]).encode()).digest()
        auth_data = (
            rp_hash
            + bytes([self._flags(uv=uv, attested=False)])
            + struct.pack(">I", self._next_count(counter))
        )
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        response: dict[str, Any] = {
            "clientDataJSON": b64(client_data),
            "authenticatorData": b64(auth_data),
            "signature": b64(signature),
        }
        handle = user_handle or self.user_handle
        if send_user_handle and handle is not None:
            response["userHandle"] = b64(handle)
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": response,
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }
