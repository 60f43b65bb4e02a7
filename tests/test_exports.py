"""The public names: what users and other tools import from ``policy``."""

from __future__ import annotations

import importlib
import pkgutil

import policy

PUBLIC = {
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
}


def test_the_package_exports_exactly_the_public_names() -> None:
    assert set(policy.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(policy, name) is not None


def test_errors_form_one_family_that_existing_excepts_catch() -> None:
    for name in ("AllowlistError", "ScopeError", "PolicyFileError", "PathError"):
        error = getattr(policy, name)
        assert issubclass(error, policy.PolicyError)
        assert issubclass(error, ValueError)
    assert issubclass(policy.PolicyTypeError, TypeError)


def test_every_module_declares_its_exports() -> None:
    missing = []
    for module in pkgutil.walk_packages(policy.__path__, "policy."):
        if module.name.endswith("__main__"):
            continue
        loaded = importlib.import_module(module.name)
        exported = getattr(loaded, "__all__", None)
        if exported is None:
            missing.append(module.name)
            continue
        for name in exported:
            assert hasattr(loaded, name), f"{module.name}.__all__ names {name}"
    assert missing == []
