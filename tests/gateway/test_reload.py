"""Hot reload: new versions apply whole, broken ones keep the last good."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from policy._errors import PolicyFileError, PolicyTypeError
from policy._policy import ADAPTER_CACHE_SIZE
from policy._reload import PolicyReloader

ONE = 'scope = "custom"\nendpoints = ["/one"]\nip_allowlist = ["192.0.2.1"]\n'
TWO = 'scope = "custom"\nendpoints = ["/two"]\nip_allowlist = ["198.51.100.2"]\n'


def replace(path: Path, text: str) -> None:
    """Write a new version the way deployment tools do: temp file, rename."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def allowed(reloader: PolicyReloader, ip: str, path: str) -> bool:
    return reloader.check(ip=ip, path=path).allowed


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(ONE, encoding="utf-8")
    return path


def test_changed_file_is_picked_up(policy_file: Path) -> None:
    reloader = PolicyReloader(policy_file, check_interval_seconds=0)
    assert allowed(reloader, "192.0.2.1", "/one")

    replace(policy_file, TWO)

    assert allowed(reloader, "198.51.100.2", "/two")
    assert not allowed(reloader, "192.0.2.1", "/one")


def test_file_is_looked_at_only_after_the_interval(policy_file: Path) -> None:
    now = [100.0]
    reloader = PolicyReloader(
        policy_file, check_interval_seconds=5, monotonic=lambda: now[0]
    )
    replace(policy_file, TWO)
    now[0] = 104.9
    assert allowed(reloader, "192.0.2.1", "/one")
    now[0] = 105.0
    assert allowed(reloader, "198.51.100.2", "/two")


def test_broken_version_keeps_the_last_good_and_warns_once(
    policy_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reloader = PolicyReloader(policy_file, check_interval_seconds=0)
    replace(policy_file, ONE.replace("192.0.2.1", "192.0.2.300"))

    with caplog.at_level(logging.WARNING, logger="policy"):
        for _ in range(3):
            assert allowed(reloader, "192.0.2.1", "/one")

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "was not reloaded; the last good version stays in force" in (
        warnings[0].getMessage()
    )
    assert "192.0.2.300" in warnings[0].getMessage()

    replace(policy_file, TWO)
    assert reloader.reload() is True
    assert allowed(reloader, "198.51.100.2", "/two")


def test_removed_file_keeps_the_last_good(
    policy_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reloader = PolicyReloader(policy_file, check_interval_seconds=0)
    policy_file.unlink()
    with caplog.at_level(logging.WARNING, logger="policy"):
        assert reloader.reload() is False
    assert allowed(reloader, "192.0.2.1", "/one")
    assert "cannot read" in caplog.text


def test_reload_reports_whether_a_version_was_loaded(policy_file: Path) -> None:
    reloader = PolicyReloader(policy_file, check_interval_seconds=3600)
    assert reloader.reload() is False
    replace(policy_file, TWO)
    assert reloader.reload() is True
    assert reloader.reload() is False


def test_first_load_must_succeed(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="cannot read"):
        PolicyReloader(tmp_path / "missing.toml")


def test_interval_must_not_be_negative(policy_file: Path) -> None:
    with pytest.raises(PolicyTypeError, match="got -1"):
        PolicyReloader(policy_file, check_interval_seconds=-1)
    with pytest.raises(PolicyTypeError, match="got nan"):
        PolicyReloader(policy_file, check_interval_seconds=float("nan"))


def test_file_changing_while_read_is_not_used(policy_file: Path) -> None:
    calls = 0
    from policy._policyfile import load_policy

    def racing_loader(path: Path) -> object:
        nonlocal calls
        calls += 1
        policy = load_policy(path)
        if calls == 2:
            replace(path, TWO)  # a writer gets in while this version is read
        return policy

    reloader = PolicyReloader(
        policy_file,
        check_interval_seconds=3600,
        loader=racing_loader,  # type: ignore[arg-type]
    )
    replace(policy_file, ONE.replace("/one", "/three"))
    assert reloader.reload() is False
    assert allowed(reloader, "192.0.2.1", "/one")
    assert reloader.reload() is True
    assert allowed(reloader, "198.51.100.2", "/two")


def test_no_request_is_judged_by_a_mix_of_versions(policy_file: Path) -> None:
    # A mix would pair one version's allowlist with the other's scope; the
    # crossed requests below are allowed by no complete version.
    reloader = PolicyReloader(policy_file, check_interval_seconds=0)
    stop = threading.Event()
    mixed: list[str] = []

    def judge() -> None:
        for _ in range(400):
            if allowed(reloader, "192.0.2.1", "/two") or allowed(
                reloader, "198.51.100.2", "/one"
            ):
                mixed.append("mixed")
            if stop.is_set():
                return

    judges = [threading.Thread(target=judge) for _ in range(3)]
    for thread in judges:
        thread.start()
    for index in range(60):
        replace(policy_file, TWO if index % 2 == 0 else ONE)
    stop.set()
    for thread in judges:
        thread.join(timeout=30)

    assert mixed == []
    assert not any(thread.is_alive() for thread in judges)


def test_repr_names_the_file_and_policy(policy_file: Path) -> None:
    text = repr(PolicyReloader(policy_file))
    assert text.startswith(f"<PolicyReloader {str(policy_file)!r} <AccessPolicy ")


def test_concurrent_reload_does_not_wait(policy_file: Path) -> None:
    reloader = PolicyReloader(policy_file, check_interval_seconds=3600)
    replace(policy_file, TWO)
    with reloader._lock:  # another thread is loading
        assert reloader.reload() is False
    assert reloader.reload() is True


def test_the_default_loader_turns_the_cache_on(policy_file: Path) -> None:
    reloader = PolicyReloader(policy_file, check_interval_seconds=0)
    assert reloader.policy.cache_size == ADAPTER_CACHE_SIZE
    replace(policy_file, TWO)
    assert reloader.reload() is True
    assert reloader.policy.cache_size == ADAPTER_CACHE_SIZE
