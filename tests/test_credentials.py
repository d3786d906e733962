"""One credentials helper for Session.from_env and the command line."""

from __future__ import annotations

import pytest

import bangwo8_async as bw
from bangwo8_async.auth import ResolvedCredentials, resolve_credentials

BASIC_ENV = {"BANGWO8_ACCOUNT": "env-admin", "BANGWO8_PASSWORD": "env-pw"}
CLIENT_ENV = {"BANGWO8_SECRET_ID": "env-sid", "BANGWO8_SECRET": "env-secret"}
ALL_VARS = (
    "BANGWO8_ACCOUNT",
    "BANGWO8_PASSWORD",
    "BANGWO8_SECRET_ID",
    "BANGWO8_SECRET",
    "BANGWO8_TOKEN_URL",
    "BANGWO8_BASE_URL",
)


def test_basic_from_the_environment() -> None:
    found = resolve_credentials(BASIC_ENV)
    assert found == ResolvedCredentials(
        bw.BasicAuth("env-admin", "env-pw"), "BANGWO8_ACCOUNT/BANGWO8_PASSWORD"
    )


def test_client_credentials_from_the_environment_with_the_token_url() -> None:
    env = {**CLIENT_ENV, "BANGWO8_TOKEN_URL": "https://sso.example.com/token"}
    found = resolve_credentials(env)
    assert found.auth == bw.ClientCredentials(
        "env-sid", "env-secret", "https://sso.example.com/token"
    )
    assert found.source == "BANGWO8_SECRET_ID/BANGWO8_SECRET"


def test_explicit_arguments_win_over_the_environment() -> None:
    env = {**BASIC_ENV, **CLIENT_ENV}
    found = resolve_credentials(env, account="cli-admin", password="cli-pw")
    assert found == ResolvedCredentials(bw.BasicAuth("cli-admin", "cli-pw"), "--account/--password")
    found = resolve_credentials(
        env, secret_id="cli-sid", secret="cli-secret", token_url="https://t.example.com/token"
    )
    assert found.auth == bw.ClientCredentials(
        "cli-sid", "cli-secret", "https://t.example.com/token"
    )
    assert found.source == "--secret-id/--secret"


def test_half_from_a_flag_half_from_the_environment() -> None:
    found = resolve_credentials({"BANGWO8_PASSWORD": "env-pw"}, account="cli-admin")
    assert found.auth == bw.BasicAuth("cli-admin", "env-pw")
    assert found.source == "--account/BANGWO8_PASSWORD"


def test_basic_wins_over_client_credentials_in_the_environment() -> None:
    assert isinstance(resolve_credentials({**BASIC_ENV, **CLIENT_ENV}).auth, bw.BasicAuth)


@pytest.mark.parametrize(
    ("env", "kwargs", "message"),
    [
        (
            {},
            {"account": "a"},
            "--account given without a password: pass --password or set BANGWO8_PASSWORD",
        ),
        (
            {},
            {"password": "p"},
            "--password given without an account: pass --account or set BANGWO8_ACCOUNT",
        ),
        (
            {"BANGWO8_ACCOUNT": "a"},
            {},
            "BANGWO8_ACCOUNT given without a password: set BANGWO8_PASSWORD",
        ),
        (
            {"BANGWO8_SECRET": "s"},
            {},
            "BANGWO8_SECRET given without a secret id: set BANGWO8_SECRET_ID",
        ),
        (
            CLIENT_ENV | {"BANGWO8_ACCOUNT": "a"},
            {},
            "BANGWO8_ACCOUNT given without a password: set BANGWO8_PASSWORD",
        ),
        (
            {},
            {"secret_id": "i"},
            "--secret-id given without a secret: pass --secret or set BANGWO8_SECRET",
        ),
    ],
)
def test_half_a_pair_names_what_is_missing(
    env: dict[str, str], kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(bw.ValidationError) as info:
        resolve_credentials(env, **kwargs)
    assert str(info.value) == message
    assert info.value.field == "auth"


@pytest.mark.parametrize("env", [{}, {"BANGWO8_ACCOUNT": "", "BANGWO8_PASSWORD": ""}])
def test_no_credentials(env: dict[str, str]) -> None:
    with pytest.raises(bw.ValidationError, match=r"^no credentials: set BANGWO8_ACCOUNT"):
        resolve_credentials(env)


def test_errors_never_show_the_secret_half() -> None:
    with pytest.raises(bw.ValidationError) as info:
        resolve_credentials({"BANGWO8_PASSWORD": "pw-Sup3r-Secret"})
    assert "pw-Sup3r-Secret" not in str(info.value) + repr(info.value)


async def test_from_env_token_url_reaches_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in CLIENT_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BANGWO8_TOKEN_URL", "https://sso.example.com/oauth/token")
    async with bw.Session.from_env() as session:
        assert isinstance(session.auth, bw.ClientCredentials)
        assert str(session._token_url) == "https://sso.example.com/oauth/token"


def test_from_env_refuses_half_a_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BANGWO8_ACCOUNT", "admin")
    with pytest.raises(bw.ValidationError, match="without a password: set BANGWO8_PASSWORD"):
        bw.Session.from_env()
