"""Encryption of secrets at rest (OAuth tokens): Fernet (AES-128-CBC + HMAC-SHA256) with a key from the environment.

Generate a key with ``python -m pdx_common.crypto``.
"""

from cryptography.fernet import Fernet, InvalidToken


class TokenCipher:
    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise ValueError(
                "the token key must be a Fernet key: generate one with `python -m pdx_common.crypto`") from exc

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("a stored secret cannot be decrypted with this key (was the key changed?)") from exc


if __name__ == "__main__":
    print(Fernet.generate_key().decode())
