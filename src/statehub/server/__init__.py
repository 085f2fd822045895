"""The statehub server: an HTTP API over a hub, with per-agent bearer tokens.

Tokens (:mod:`statehub.server.tokens`) need nothing beyond statehub; the HTTP app
(:mod:`statehub.server.app`) needs the ``server`` extra
(``pip install 'statehub[server]'``).
"""

from statehub.server.tokens import (
    Identity,
    TokenInfo,
    authenticate,
    create_token,
    list_tokens,
    revoke_token,
)

__all__ = ["Identity", "TokenInfo", "authenticate", "create_token", "list_tokens", "revoke_token"]
