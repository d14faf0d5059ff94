"""HS256 JWTs as SlidesLive issues them: the player token (~2 h) and the embed init token (36 h).

Made with hmac/hashlib only. ``check`` answers None for anything a server would refuse: not three parts,
undecodable, the wrong algorithm, a bad signature, or an ``exp`` in the past.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

PLAYER_TOKEN_S = 2 * 3600
EMBED_INIT_TOKEN_S = 36 * 3600  # 129600, as in a decoded ICML 2024 token
HEADER = {"alg": "HS256"}


def encode(payload: dict, secret: bytes) -> str:
    head = _b64(json.dumps(HEADER, separators=(",", ":")).encode())
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def check(token: str | None, secret: bytes, now: float) -> dict | None:
    """The payload of a well-formed, correctly signed, unexpired token; otherwise None."""
    parts = (token or "").split(".")
    if len(parts) != 3:
        return None
    head, body, signature = parts
    expected = _b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        header, payload = json.loads(_unb64(head)), json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or header.get("alg") != "HS256":
        return None
    exp = payload.get("exp")
    return payload if isinstance(exp, int | float) and exp > now else None


def player_token(secret: bytes, presentation_id: str, now: float) -> str:
    issued = int(now)
    payload = {"iat": issued, "exp": issued + PLAYER_TOKEN_S, "presentation_id": presentation_id,
               "session_uuid": str(uuid.uuid4())}
    return encode(payload, secret)


def player_token_valid(token: str | None, secret: bytes, presentation_id: str, now: float) -> bool:
    payload = check(token, secret, now)
    return payload is not None and payload.get("presentation_id") == presentation_id


def embed_init_token(secret: bytes, parent_host: str, user_uuid: str, now: float) -> str:
    issued = int(now)
    payload = {"iat": issued, "exp": issued + EMBED_INIT_TOKEN_S,
               "u": {"uuid": user_uuid, "i": None, "e": None, "m": False}, "d": parent_host}
    return encode(payload, secret)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
