"""Signed short-lived staff access tokens (SPEC §8): Ed25519 JWTs, one module for both services.

Enrollment signs (it holds the private key); settlement verifies with the public key alone, so
it accepts the same staff without calling enrollment. A token carries ``sub`` (the staff name),
``role`` and the scope claim of a scoped role, ``iat`` and ``exp`` at most 15 minutes later.

Everything a verifier can be handed — no header, a malformed one, a token expired, tampered
with, signed by another key, or claiming ``alg: none`` — is ``Unauthenticated`` (401 on the
wire), never an unhandled error. Only EdDSA is accepted: the algorithm is never taken from the
token's own header.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.errors import CodedError

ALGORITHM = "EdDSA"
ISSUER = "enrollment"
MAX_TTL = timedelta(minutes=15)
CLOCK_SKEW = timedelta(seconds=30)
"""Leeway between the signer's clock and a verifier's (the services may run on two hosts)."""
SCOPE_CLAIMS = ("region", "organization", "source")
PRIVATE_KEY_NAME = "staff-token-ed25519.pem"
PUBLIC_KEY_NAME = "staff-token-ed25519.pub.pem"


class Unauthenticated(CodedError):
    """The caller did not prove who they are: 401 ``UNAUTHENTICATED``."""

    def __init__(self, message: str) -> None:
        super().__init__("UNAUTHENTICATED", message)


@dataclass(frozen=True, slots=True)
class StaffClaims:
    """What a verified access token says about its bearer."""

    name: str
    role: str
    expires_at: datetime
    region: str | None = None
    organization: str | None = None
    source: str | None = None


def bearer_token(header: str | None) -> str:
    """The token of an ``Authorization: Bearer TOKEN`` header, or ``Unauthenticated``."""
    if not header:
        raise Unauthenticated("an Authorization: Bearer token is required")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated("the Authorization header must be 'Bearer TOKEN'")
    return token


def is_access_token(token: str) -> bool:
    """A signed token has three dot-separated parts; a staff token (url-safe base64) has none."""
    return token.count(".") == 2


def sign(
    key: Ed25519PrivateKey,
    name: str,
    role: str,
    *,
    scope: dict[str, str] | None = None,
    now: datetime | None = None,
    ttl: timedelta = MAX_TTL,
) -> tuple[str, int]:
    """A signed access token for a staff member and its lifetime in seconds (15 minutes at most).

    ``scope`` holds the scope claim of a scoped role (``region``, ``organization`` or ``source``).
    """
    now = now or datetime.now(UTC)
    ttl = min(ttl, MAX_TTL)
    unknown = set(scope or {}) - set(SCOPE_CLAIMS)
    if unknown:
        raise ValueError(f"not scope claims: {sorted(unknown)}")
    payload: dict[str, Any] = {
        **(scope or {}),
        "iss": ISSUER,
        "sub": name,
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(payload, key, algorithm=ALGORITHM), int(ttl.total_seconds())


def verify(key: Ed25519PublicKey, token: str, *, now: datetime | None = None) -> StaffClaims:
    """The claims of a valid, unexpired token signed by ``key``; ``Unauthenticated`` otherwise."""
    now = now or datetime.now(UTC)
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["iss", "sub", "role", "iat", "exp"], "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"the access token is not valid ({type(exc).__name__})") from None
    return _claims(payload, now)


class Verifier:
    """``verify`` with a memory: a token already verified is answered from it until it expires.

    A signed token cannot change, so its verification is worth doing once: the claims are kept
    (at most ``size`` tokens) and expiry is still checked on every call. Any other string — one
    altered character — is a different key and goes through ``verify``.
    """

    def __init__(self, key: Ed25519PublicKey, size: int = 4096) -> None:
        self.key = key
        self.size = size
        self._verified: dict[str, StaffClaims] = {}

    def verify(self, token: str, *, now: datetime | None = None) -> StaffClaims:
        now = now or datetime.now(UTC)
        claims = self._verified.get(token)
        if claims is None:
            claims = verify(self.key, token, now=now)
            if len(self._verified) >= self.size:  # full: start again rather than track age
                self._verified.clear()
            self._verified[token] = claims
        elif claims.expires_at <= now - CLOCK_SKEW:
            del self._verified[token]
            raise Unauthenticated("the access token has expired; log in again")
        return claims


def _claims(payload: dict[str, Any], now: datetime) -> StaffClaims:
    # Expiry is checked here rather than by PyJWT so the clock is the caller's (tests pin it).
    issued, expires = _instant(payload.get("iat")), _instant(payload.get("exp"))
    if expires <= now - CLOCK_SKEW:
        raise Unauthenticated("the access token has expired; log in again")
    if expires - issued > MAX_TTL or issued > now + CLOCK_SKEW:
        raise Unauthenticated("the access token's lifetime is not acceptable")
    return StaffClaims(
        _text(payload.get("sub")),
        _text(payload.get("role")),
        expires,
        region=_optional_text(payload.get("region")),
        organization=_optional_text(payload.get("organization")),
        source=_optional_text(payload.get("source")),
    )


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise Unauthenticated("the access token's claims are malformed")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _instant(seconds: Any) -> datetime:
    if type(seconds) is not int:  # bool is an int too; neither it nor "0" is a time
        raise Unauthenticated("the access token's claims are malformed")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise Unauthenticated("the access token's claims are malformed") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 signing key in the PEM file ``path`` (PKCS#8, unencrypted)."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 verification key in the PEM file ``path``."""
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} does not hold an Ed25519 public key")
    return key


def ensure_key_pair(folder: Path) -> tuple[Path, Path]:
    """A development key pair under ``folder``, made once: (private PEM, public PEM) paths.

    The private file is written owner-only. Production keys come from the operator's secret
    store through ``STAFF_TOKEN_PRIVATE_KEY_FILE`` / ``STAFF_TOKEN_PUBLIC_KEY_FILE`` instead.
    """
    private_path, public_path = folder / PRIVATE_KEY_NAME, folder / PUBLIC_KEY_NAME
    if private_path.exists() and public_path.exists():
        return private_path, public_path
    folder.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path
