"""A fast salted hash for passwords the site generates itself.

Key stretching (PBKDF2's 1,000,000 rounds) makes each guess at a *guessable* secret expensive.
A password drawn from ``secrets`` with at least 128 bits has nothing to guess: one SHA-256 over
salt and password leaves 2**128 candidates per hash, which no amount of hardware covers, and it
costs microseconds instead of ~270 ms of CPU per purchase on a launch. The hasher is registered
after the default one in ``PASSWORD_HASHERS``, so Django re-hashes the password with the default
at the member's first successful login (the member may then change it to one they chose, which
must be stretched). Only ``member_login_ensure`` asks for it by name; ``set_password`` and every
form keep the default.
"""

import hashlib

from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare

GENERATED_PASSWORD_ALGORITHM = "generated_sha256"
# The least entropy a password must carry to be stored this way (see the module docstring).
GENERATED_PASSWORD_MIN_BITS = 128


class GeneratedPasswordHasher(BasePasswordHasher):
    """Salted SHA-256, for site-generated random passwords only (never for a chosen one)."""

    algorithm = GENERATED_PASSWORD_ALGORITHM

    def encode(self, password, salt):
        self._check_encode_args(password, salt)
        digest = hashlib.sha256((salt + password).encode()).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded):
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password, encoded):
        decoded = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded):
        decoded = self.decode(encoded)
        # Django's own labels: the admin's password widget translates them with its catalog.
        return {
            "algorithm": decoded["algorithm"],
            "salt": mask_hash(decoded["salt"], show=2),
            "hash": mask_hash(decoded["hash"]),
        }

    def must_update(self, encoded):
        # Being listed after the default is what upgrades it; nothing in the hash itself ages.
        return False

    def harden_runtime(self, password, encoded):
        pass
