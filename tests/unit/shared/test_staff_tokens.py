"""Signed staff access tokens: what verifies, and every forgery or mistake that must be a 401."""

from __future__ import annotations

import base64
import json
import stat
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import staff_tokens
from shared.staff_tokens import Unauthenticated, bearer_token, sign, verify

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _parts(token: str) -> list[str]:
    return token.split(".")


def test_a_signed_token_verifies_with_the_public_key_alone():
    token, expires_in = sign(KEY, "li.wei", "district", scope={"region": "3715"}, now=NOW)
    claims = verify(KEY.public_key(), token, now=NOW + timedelta(minutes=14))
    assert (claims.name, claims.role, claims.region) == ("li.wei", "district", "3715")
    assert claims.organization is None and claims.source is None
    assert expires_in == 900
    assert claims.expires_at == NOW + timedelta(minutes=15)


def test_the_lifetime_is_capped_at_fifteen_minutes():
    token, expires_in = sign(KEY, "a", "admin", now=NOW, ttl=timedelta(hours=8))
    assert expires_in == 900
    assert verify(KEY.public_key(), token, now=NOW).expires_at == NOW + timedelta(minutes=15)


def test_an_expired_token_is_refused():
    token, _ = sign(KEY, "a", "admin", now=NOW)
    with pytest.raises(Unauthenticated, match="expired") as refused:
        verify(KEY.public_key(), token, now=NOW + timedelta(minutes=16))
    assert refused.value.code == "UNAUTHENTICATED"


def test_a_token_signed_by_another_key_is_refused():
    token, _ = sign(Ed25519PrivateKey.generate(), "a", "admin", now=NOW)
    with pytest.raises(Unauthenticated, match="InvalidSignature"):
        verify(KEY.public_key(), token, now=NOW)


def test_a_tampered_payload_is_refused():
    token, _ = sign(KEY, "town1", "town", scope={"organization": "X"}, now=NOW)
    header, payload, signature = _parts(token)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"
    forged = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    with pytest.raises(Unauthenticated):
        verify(KEY.public_key(), forged, now=NOW)


def test_alg_none_is_refused():
    claims = {"iss": "enrollment", "sub": "a", "role": "admin", "iat": 1, "exp": 2**31}
    unsigned = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(Unauthenticated):
        verify(KEY.public_key(), unsigned, now=NOW)
    # the same with the signature of a real token kept on
    token, _ = sign(KEY, "a", "admin", now=NOW)
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    with pytest.raises(Unauthenticated):
        verify(KEY.public_key(), ".".join([header, *_parts(token)[1:]]), now=NOW)


def test_a_long_lived_token_made_with_our_key_is_refused():
    # Only sign() caps the lifetime; a verifier must not trust a token that outlives the cap.
    claims = {"iss": "enrollment", "sub": "a", "role": "admin", "iat": 0, "exp": 2**31}
    token = jwt.encode(claims, KEY, algorithm="EdDSA")
    with pytest.raises(Unauthenticated, match="lifetime"):
        verify(KEY.public_key(), token, now=NOW)


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "enrollment", "sub": "a", "iat": 0, "exp": 60},  # no role
        {"iss": "enrollment", "sub": "a", "role": 7, "iat": 0, "exp": 60},
        {"iss": "elsewhere", "sub": "a", "role": "admin", "iat": 0, "exp": 60},
        {"iss": "enrollment", "sub": "a", "role": "admin", "iat": "0", "exp": 60},
        {"iss": "enrollment", "sub": "a", "role": "admin", "region": 1, "iat": 0, "exp": 60},
    ],
)
def test_malformed_claims_are_refused(claims):
    token = jwt.encode(claims, KEY, algorithm="EdDSA")
    with pytest.raises(Unauthenticated):
        verify(KEY.public_key(), token, now=datetime.fromtimestamp(30, UTC))


@pytest.mark.parametrize("garbage", ["", "a.b.c", "....", "x" * 5000, "é.é.é", "e30.e30.e30"])
def test_garbage_is_refused_not_crashed_on(garbage):
    with pytest.raises(Unauthenticated):
        verify(KEY.public_key(), garbage, now=NOW)


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer a b", "Token abc"]
)
def test_a_malformed_authorization_header_is_refused(header):
    with pytest.raises(Unauthenticated):
        bearer_token(header)


def test_the_bearer_scheme_is_case_insensitive():
    assert bearer_token("bearer abc") == "abc"
    assert bearer_token("Bearer  abc ") == "abc"


def test_staff_tokens_and_signed_tokens_are_told_apart():
    token, _ = sign(KEY, "a", "admin", now=NOW)
    assert staff_tokens.is_access_token(token)
    assert not staff_tokens.is_access_token("Zm9vYmFyLWJhei1xdXV4LTEyMzQ1Njc4OTAtYWJjZGVm")


def test_a_dev_key_pair_is_made_once_and_the_private_half_is_owner_only(tmp_path):
    private, public = staff_tokens.ensure_key_pair(tmp_path / "var")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    first = private.read_bytes()
    assert staff_tokens.ensure_key_pair(tmp_path / "var") == (private, public)
    assert private.read_bytes() == first
    token, _ = sign(staff_tokens.load_private_key(private), "a", "admin", now=NOW)
    assert verify(staff_tokens.load_public_key(public), token, now=NOW).name == "a"


def test_a_key_file_of_another_kind_is_refused(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "ec.pem").write_bytes(pem)
    with pytest.raises(ValueError, match="Ed25519"):
        staff_tokens.load_private_key(tmp_path / "ec.pem")


def test_the_verifier_checks_a_token_once_and_its_expiry_every_time(monkeypatch):
    verifier = staff_tokens.Verifier(KEY.public_key(), size=2)
    token, _ = sign(KEY, "li.wei", "district", scope={"region": "3715"}, now=NOW)
    calls = []
    real = staff_tokens.verify
    monkeypatch.setattr(staff_tokens, "verify", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = verifier.verify(token, now=NOW)
    assert verifier.verify(token, now=NOW + timedelta(minutes=10)) == first
    assert len(calls) == 1  # verified once
    head, body, signature = _parts(token)
    with pytest.raises(Unauthenticated):  # another string is verified, not looked up
        verifier.verify(f"{head}.{body}x.{signature}", now=NOW)
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(token, now=NOW + timedelta(minutes=16))
    with pytest.raises(Unauthenticated, match="expired"):  # and not kept once expired
        verifier.verify(token, now=NOW + timedelta(minutes=16))
    for n in range(3):  # a full memory starts again instead of growing
        verifier.verify(sign(KEY, f"n{n}", "city", now=NOW)[0], now=NOW)
    assert len(verifier._verified) <= 2
