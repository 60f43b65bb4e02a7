"""Decide whether an API request made with an access token may go through.

The public names live here; the implementation is in private modules, one
job each: ``_entry_grammar`` (allowlist entries), ``_index`` (interval
index), ``_allowlist``, ``_address`` (client addresses), ``_paths`` (path
canonicaliser), ``_endpoints`` and ``_scope`` (scopes), ``_policy``
(decisions) and ``_policyfile`` (TOML policy files).
"""

from __future__ import annotations

import logging

from policy._allowlist import Entry, IPAllowlist
from policy._decision import Decision, Reason
from policy._endpoints import Endpoint
from policy._errors import (
    AllowlistError,
    Diagnostic,
    PolicyError,
    PolicyFileError,
    PolicyTypeError,
    ScopeError,
)
from policy._paths import PathError, canonical_path
from policy._policy import AccessPolicy
from policy._policyfile import load_policy, loads_policy
from policy._scope import Scope

__all__ = [
    "AccessPolicy",
    "AllowlistError",
    "Decision",
    "Diagnostic",
    "Endpoint",
    "Entry",
    "IPAllowlist",
    "PathError",
    "PolicyError",
    "PolicyFileError",
    "PolicyTypeError",
    "Reason",
    "Scope",
    "ScopeError",
    "canonical_path",
    "load_policy",
    "loads_policy",
]

# A library never configures logging; this keeps "No handlers could be found"
# warnings away until the application sets up its own.
logging.getLogger(__name__).addHandler(logging.NullHandler())
