"""Hospital API keys: random, long, and stored only as a hash."""

from __future__ import annotations

import hashlib

import pytest

from services.settlement.adapters import hospitals

pytestmark = pytest.mark.unit


def test_keys_are_random_and_long():
    keys = {hospitals.new_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(len(k) >= 43 for k in keys)


def test_the_stored_hash_is_sha256_and_not_the_key():
    key = hospitals.new_key()
    stored = hospitals.hash_key(key)
    assert stored == hashlib.sha256(key.encode()).hexdigest()
    assert key not in stored
    assert hospitals.hash_key(key + "x") != stored
