"""One credentials helper for Session.from_env and the command line: the SDK speaks of values
and environment variables, the command line words the same rule with its own flags."""

from __future__ import annotations

import pytest

import bangwo8_async as bw
from bangwo8_async.auth import IncompleteCredentials, ResolvedCredentials, resolve_credentials
from bangwo8_async.cli.arguments import parse
from bangwo8_async.cli.connection import UsageError, credentials

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
        bw.BasicAuth("env-admin", "env-pw"), ("BANGWO8_ACCOUNT", "BANGWO8_PASSWORD")
    )
    assert found.fields == ("account", "password")


def test_client_credentials_from_the_environment_with_the_token_url() -> None:
    env = {**CLIENT_ENV, "BANGWO8_TOKEN_URL": "https://sso.example.com/token"}
    found = resolve_credentials(env)
    assert found.auth == bw.ClientCredentials(
        "env-sid", "env-secret", "https://sso.example.com/token"
    )
    assert found.variables == ("BANGWO8_SECRET_ID", "BANGWO8_SECRET")
    assert found.fields == ("secret_id", "secret")


def test_explicit_arguments_win_over_the_environment() -> None:
    env = {**BASIC_ENV, **CLIENT_ENV}
    found = resolve_credentials(env, account="cli-admin", password="cli-pw")
    assert found == ResolvedCredentials(bw.BasicAuth("cli-admin", "cli-pw"), (None, None))
    found = resolve_credentials(
        env, secret_id="cli-sid", secret="cli-secret", token_url="https://t.example.com/token"
    )
    assert found.auth == bw.ClientCredentials(
        "cli-sid", "cli-secret", "https://t.example.com/token"
    )
    assert found.variables == (None, None)


def test_half_from_a_flag_half_from_the_environment() -> None:
    found = resolve_credentials({"BANGWO8_PASSWORD": "env-pw"}, account="cli-admin")
    assert found.auth == bw.BasicAuth("cli-admin", "env-pw")
    assert found.variables == (None, "BANGWO8_PASSWORD")


def test_basic_wins_over_client_credentials_in_the_environment() -> None:
    assert isinstance(resolve_credentials({**BASIC_ENV, **CLIENT_ENV}).auth, bw.BasicAuth)


@pytest.mark.parametrize(
    ("env", "kwargs", "message", "missing"),
    [
        (
            {},
            {"account": "a"},
            "account given without a password: pass password or set BANGWO8_PASSWORD",
            ("password", "BANGWO8_PASSWORD"),
        ),
        (
            {},
            {"password": "p"},
            "password given without an account: pass account or set BANGWO8_ACCOUNT",
            ("account", "BANGWO8_ACCOUNT"),
        ),
        (
            {"BANGWO8_ACCOUNT": "a"},
            {},
            "BANGWO8_ACCOUNT given without a password: set BANGWO8_PASSWORD",
            ("password", "BANGWO8_PASSWORD"),
        ),
        (
            {"BANGWO8_SECRET": "s"},
            {},
            "BANGWO8_SECRET given without a secret id: set BANGWO8_SECRET_ID",
            ("secret_id", "BANGWO8_SECRET_ID"),
        ),
        (
            CLIENT_ENV | {"BANGWO8_ACCOUNT": "a"},
            {},
            "BANGWO8_ACCOUNT given without a password: set BANGWO8_PASSWORD",
            ("password", "BANGWO8_PASSWORD"),
        ),
        (
            {},
            {"secret_id": "i"},
            "secret_id given without a secret: pass secret or set BANGWO8_SECRET",
            ("secret", "BANGWO8_SECRET"),
        ),
    ],
)
def test_half_a_pair_names_what_is_missing(
    env: dict[str, str], kwargs: dict[str, str], message: str, missing: tuple[str, str]
) -> None:
    with pytest.raises(IncompleteCredentials) as info:
        resolve_credentials(env, **kwargs)
    assert str(info.value) == message
    assert info.value.field == "auth"
    assert (info.value.missing, info.value.missing_variable) == missing
    assert "--" not in str(info.value)  # the SDK knows no command line


@pytest.mark.parametrize(
    ("env", "argv", "message"),
    [
        (
            {},
            ["--account", "a"],
            "--account given without a password: pass --password or set BANGWO8_PASSWORD",
        ),
        (
            {},
            ["--password", "p"],
            "--password given without an account: pass --account or set BANGWO8_ACCOUNT",
        ),
        (
            {"BANGWO8_ACCOUNT": "a"},
            [],
            "BANGWO8_ACCOUNT given without a password: set BANGWO8_PASSWORD",
        ),
        (
            {"BANGWO8_SECRET": "s"},
            [],
            "BANGWO8_SECRET given without a secret id: set BANGWO8_SECRET_ID",
        ),
        (
            {},
            ["--secret-id", "i"],
            "--secret-id given without a secret: pass --secret or set BANGWO8_SECRET",
        ),
        (
            {},
            [],
            "no credentials: set BANGWO8_ACCOUNT and BANGWO8_PASSWORD, "
            "or BANGWO8_SECRET_ID and BANGWO8_SECRET",
        ),
    ],
)
def test_the_command_line_names_its_own_flags(
    env: dict[str, str], argv: list[str], message: str
) -> None:
    with pytest.raises(UsageError) as info:
        credentials(parse(["tasks", "list", *argv]), env)
    assert str(info.value) == f"{message}; or try --fake"


@pytest.mark.parametrize(
    ("env", "argv", "source"),
    [
        (BASIC_ENV, [], "the environment (BANGWO8_ACCOUNT/BANGWO8_PASSWORD)"),
        (BASIC_ENV, ["--account", "a", "--password", "p"], "the flags --account/--password"),
        (
            {"BANGWO8_PASSWORD": "p"},
            ["--account", "a"],
            "flags and environment (--account/BANGWO8_PASSWORD)",
        ),
        (BASIC_ENV, ["--secret-id", "i", "--secret", "s"], "the flags --secret-id/--secret"),
        (
            {"BANGWO8_SECRET_ID": "i"},
            ["--secret", "s"],
            "flags and environment (BANGWO8_SECRET_ID/--secret)",
        ),
    ],
)
def test_the_command_line_says_where_the_credentials_came_from(
    env: dict[str, str], argv: list[str], source: str
) -> None:
    assert credentials(parse(["tasks", "list", *argv]), env)[1] == source


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
    with pytest.raises(
        bw.ValidationError, match="without a password: set BANGWO8_PASSWORD"
    ) as info:
        bw.Session.from_env()
    assert isinstance(info.value, IncompleteCredentials)
    assert info.value.missing_variable == "BANGWO8_PASSWORD"
