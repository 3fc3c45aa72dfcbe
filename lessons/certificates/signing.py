"""The platform's certificate key and Data Integrity proofs (``eddsa-jcs-2022``).

A credential is signed as the W3C Data Integrity EdDSA cryptosuite ``eddsa-jcs-2022``
describes: the proof options (without ``proofValue``, with the credential's ``@context``) and the
credential (without ``proof``) are each canonicalised with JCS (RFC 8785) and hashed with
SHA-256; the Ed25519 signature over proof-hash ‖ document-hash is the ``proofValue``, multibase
base58btc. The public key is published as a Multikey in the issuer's controller document and as
a JWK at ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from marketplace.settings import ConfigError

CRYPTOSUITE = "eddsa-jcs-2022"
_ED25519_MULTICODEC = b"\xed\x01"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def jcs(value: Any) -> bytes:
    """RFC 8785 canonical JSON for the values credentials hold (no non-integral floats)."""
    return _jcs(value).encode("utf-8")


def _jcs(value: Any) -> str:
    if isinstance(value, dict):
        # RFC 8785 sorts by UTF-16 code units; ASCII keys (ours) sort the same as str order.
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(_jcs(str(k)) + ":" + _jcs(value[k]) for k in keys) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_jcs(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise ValueError("credentials carry only integral numbers")
        return str(int(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot canonicalise {type(value).__name__}")


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = _B58.find(char)
        if index < 0:
            raise ValueError("not base58")
        number = number * 58 + index
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Signer:
    private_key: Ed25519PrivateKey
    base_url: str

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def public_bytes(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def multikey(self) -> str:
        return "z" + b58encode(_ED25519_MULTICODEC + self.public_bytes)

    @property
    def issuer_id(self) -> str:
        return f"{self.base_url}/.well-known/duet-issuer.json"

    @property
    def key_id(self) -> str:
        """The key's JWK thumbprint (RFC 7638): a new key gets a new id."""
        thumbprint = json.dumps(
            {"crv": "Ed25519", "kty": "OKP", "x": _b64url(self.public_bytes)},
            separators=(",", ":"),
            sort_keys=True,
        )
        return _b64url(hashlib.sha256(thumbprint.encode()).digest())

    @property
    def verification_method(self) -> str:
        return f"{self.issuer_id}#{self.key_id}"

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": _b64url(self.public_bytes),
                    "kid": self.key_id,
                    "alg": "EdDSA",
                    "use": "sig",
                }
            ]
        }

    def controller_document(self, name: str) -> dict[str, Any]:
        """The issuer profile and its key, as an Open Badges Profile and DID-style controller."""
        return {
            "@context": [
                "https://www.w3.org/ns/credentials/v2",
                "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
                "https://w3id.org/security/multikey/v1",
            ],
            "id": self.issuer_id,
            "type": ["Profile"],
            "name": name,
            "url": self.base_url + "/",
            "verificationMethod": [
                {
                    "id": self.verification_method,
                    "type": "Multikey",
                    "controller": self.issuer_id,
                    "publicKeyMultibase": self.multikey,
                }
            ],
            "assertionMethod": [self.verification_method],
        }

    def sign(self, document: dict[str, Any], created: str) -> dict[str, Any]:
        """``document`` with an ``eddsa-jcs-2022`` DataIntegrityProof added."""
        unsecured = {k: v for k, v in document.items() if k != "proof"}
        options = {
            "type": "DataIntegrityProof",
            "cryptosuite": CRYPTOSUITE,
            "created": created,
            "verificationMethod": self.verification_method,
            "proofPurpose": "assertionMethod",
        }
        signature = self.private_key.sign(_hash_data(unsecured, options))
        return {**unsecured, "proof": {**options, "proofValue": "z" + b58encode(signature)}}


def _hash_data(unsecured: dict[str, Any], options: dict[str, Any]) -> bytes:
    config = dict(options)
    if "@context" in unsecured:
        config["@context"] = unsecured["@context"]
    return hashlib.sha256(jcs(config)).digest() + hashlib.sha256(jcs(unsecured)).digest()


def public_key_from_multikey(multikey: str) -> Ed25519PublicKey:
    if not multikey.startswith("z"):
        raise ValueError("not a base58btc multibase value")
    raw = b58decode(multikey[1:])
    if not raw.startswith(_ED25519_MULTICODEC) or len(raw) != 34:
        raise ValueError("not an Ed25519 Multikey")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def verify(document: dict[str, Any], public_key: Ed25519PublicKey) -> bool:
    """True when ``document``'s ``eddsa-jcs-2022`` proof was made by ``public_key`` over exactly
    this content; any change to the credential or the proof options breaks it."""
    proof = document.get("proof")
    if not isinstance(proof, dict) or proof.get("cryptosuite") != CRYPTOSUITE:
        return False
    if proof.get("type") != "DataIntegrityProof":
        return False
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        return False
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    unsecured = {k: v for k, v in copy.deepcopy(document).items() if k != "proof"}
    try:
        public_key.verify(b58decode(value[1:]), _hash_data(unsecured, options))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def load_private_key(encoded: str) -> Ed25519PrivateKey:
    """``CERTIFICATE_SIGNING_KEY``: a 32-byte Ed25519 seed in base64url (padding optional)."""
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ConfigError(
            "CERTIFICATE_SIGNING_KEY must be 32 random bytes in base64url (an Ed25519 seed)."
        )
    return Ed25519PrivateKey.from_private_bytes(raw)


@lru_cache(maxsize=8)
def signer_for(encoded_key: str, base_url: str) -> Signer:
    return Signer(load_private_key(encoded_key), base_url.rstrip("/"))
