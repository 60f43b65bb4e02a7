"""Access and refresh tokens: the whole lifecycle, with an embedded store.

Tokens follow Commvault's REST API access tokens: a 30-minute access token
with a refresh token for the All, Custom and Hyperscale scopes (renewable
until 90 days after creation by default), fixed-lifetime tokens for Microsoft
SCIM and 1-Touch recovery.  Secrets are returned once and stored as SHA-256
digests only::

    service = TokenService(SQLiteStore("tokens.db"))
    issued = service.create(user="ana", name="ci", scope="all")
    service.authorize(access_token=issued.access_token, ip="192.0.2.1",
                      path="/Client")
"""

from __future__ import annotations

from policy.tokens._clock import Clock, FakeClock, SystemClock, as_utc
from policy.tokens._errors import (
    RenewalDenied,
    TokenError,
    TokenLifetimeError,
    TokenNotFoundError,
    TokenPermissionError,
    TokenStoreError,
)
from policy.tokens._lifetimes import (
    ACCESS_LIFETIME,
    CLOCK_SKEW,
    DEFAULT_RENEWABLE_FOR,
    FIXED_LIFETIMES,
    FOREVER,
    MAX_RENEWABLE_FOR,
    RENEW_AFTER_EXPIRY,
    FixedLifetime,
    LifetimeRules,
    ScopeId,
    TokenClock,
)
from policy.tokens._memory import MemoryStore
from policy.tokens._model import IssuedToken, PairRecord, RevokeCause, TokenRecord
from policy.tokens._secrets import ACCESS_PREFIX, REFRESH_PREFIX, looks_like
from policy.tokens._service import Credential, TokenService
from policy.tokens._sqlite import SCHEMA_VERSION, SQLiteStore
from policy.tokens._store import TokenStore

__all__ = [
    "ACCESS_LIFETIME",
    "ACCESS_PREFIX",
    "CLOCK_SKEW",
    "DEFAULT_RENEWABLE_FOR",
    "FIXED_LIFETIMES",
    "FOREVER",
    "MAX_RENEWABLE_FOR",
    "REFRESH_PREFIX",
    "RENEW_AFTER_EXPIRY",
    "SCHEMA_VERSION",
    "Clock",
    "Credential",
    "FakeClock",
    "FixedLifetime",
    "IssuedToken",
    "LifetimeRules",
    "MemoryStore",
    "PairRecord",
    "RenewalDenied",
    "RevokeCause",
    "SQLiteStore",
    "ScopeId",
    "SystemClock",
    "TokenClock",
    "TokenError",
    "TokenLifetimeError",
    "TokenNotFoundError",
    "TokenPermissionError",
    "TokenRecord",
    "TokenService",
    "TokenStore",
    "TokenStoreError",
    "as_utc",
    "looks_like",
]
