"""The README and the docs pages do what they say.

The Quickstart runs against the fake server as described; the plugin settings
and the fixtures' example work in a downstream project; every example on the
pages runs against the fake; every command is one ``bangwo8`` accepts, and every
flag, fake-server option and ``Fault`` is documented as the code has it; every
``bw.`` name exists and every public name has its entry in the built reference;
every link lands on a page and an anchor of the built site.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import importlib
import inspect
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import bangwo8_async as bw
import bangwo8_async.testing
from bangwo8_async.cli import FAKE_TASKS, parser
from bangwo8_async.testing import RATE_FAULTS, FakeBangwo8, Fault

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DOCS = ROOT / "docs"
PAGES = {p.name: p.read_text() for p in sorted(DOCS.glob("*.md"))}
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("BANGWO8_", "PYTEST_"))}
BIN = str(Path(sys.executable).parent)
SITE = "https://bangwo8-async.github.io/bangwo8_async/"
# The README's two commands for a newcomer on a fresh machine, exactly.
TRY_IT = "pip install -e '.[test]' && bangwo8 export tasks --fake --output tasks.jsonl"
TEST_IT = "pip install -e '.[test]' && python -m pytest"


def section(text: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    heads = re.compile(rf"^#{{1,{len(level)}}} ", re.M)
    ends = [m.start() for m in heads.finditer(text[start:])]
    return text[start : start + ends[0]] if ends else text[start:]


def blocks(text: str, lang: str) -> list[str]:
    """The fenced code blocks of one language, in order."""
    return re.findall(rf"^```{re.escape(lang)}\n(.*?)^```$", text, re.M | re.S)


def everything() -> dict[str, str]:
    """The README and every docs page, by name."""
    return {"README.md": README, **PAGES}


# -- the README itself -------------------------------------------------------------------------


def test_the_readme_reads_in_five_minutes_and_keeps_the_newcomers_two_commands() -> None:
    assert len(README.splitlines()) <= 200
    try_it = section(README, "## Try it: two commands on a fresh machine")
    assert blocks(try_it, "sh") == [TRY_IT + "\n", TEST_IT + "\n"]
    home = section(PAGES["index.md"], "## Try it: two commands on a fresh machine")
    assert blocks(home, "sh")[:2] == [TRY_IT + "\n", TEST_IT + "\n"]
    # CI's last step is that test command; the extra it installs exists and holds pytest.
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("\npython -m pytest")
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^test = \[\n    "pytest>=', pyproject, re.M)
    data = section(README, "## For data teams")
    assert blocks(data, "sh") == ["bangwo8 sync --fake\n"]
    assert "[warehouse]" in data and len(data.strip().splitlines()) <= 7


def test_the_readmes_first_command_exports_every_task_of_the_fake(tmp_path: Path) -> None:
    command = TRY_IT.split(" && ", 1)[1]
    done = subprocess.run(
        shlex.split(command),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**ENV, "PATH": BIN + os.pathsep + ENV.get("PATH", "")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "tasks.jsonl").read_text().splitlines()) == FAKE_TASKS


def test_the_quickstart_runs_against_the_fake_server_as_described(tmp_path: Path) -> None:
    quickstart = blocks(section(README, "## Quickstart"), "python")[0]
    how = section(README, "### Using the fake server from the Quickstart")
    (start,) = blocks(how, "sh")
    (swap,) = blocks(how, "python")
    old = re.search(
        r"^ *auth = bw\.BasicAuth\(.*\n *async with bw\.Session\(auth\) as session:\n",
        quickstart,
        re.M,
    )
    assert old, "the Quickstart no longer builds `auth` and the session in two lines"
    (tmp_path / "quickstart.py").write_text(quickstart.replace(old.group(0), swap))
    # Port 0: tests never bind a fixed port. The rest is the README's own shell, verbatim.
    assert "--port 8080" in start
    script = start.replace("--port 8080", "--port 0") + "python quickstart.py\nkill %1\n"
    # A session of its own, so that whatever happens the server it started is stopped too.
    shell = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**ENV, "PATH": BIN + os.pathsep + ENV.get("PATH", "")},
    )
    try:
        stdout, stderr = shell.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
        shell.wait()
    assert shell.returncode == 0, stdout + stderr
    out = stdout.splitlines()
    assert len(out) == 4, out  # one line per print() of the Quickstart
    count, names = out[0].split(" ", 1)
    assert int(count) > 0 and "外呼任务" in names  # the fake's sample tasks
    assert out[2].startswith("2 []")  # both customers legal, none illegal
    # What the home page shows the server printing is what it printed (port and password aside).
    (shown,) = blocks(
        section(PAGES["index.md"], "### Using the fake server from the Quickstart"), "console"
    )
    port = re.search(r":(\d+)/api/v1", (tmp_path / "fake-server.env").read_text())
    assert port
    printed = (tmp_path / "fake-server.env").read_text().replace(f":{port[1]}/", ":8080/")
    printed = re.sub(r"(?m)^(export BANGWO8_PASSWORD=).*$", r"\1...", printed)
    lines = shown.splitlines(keepends=True)
    assert lines[0] == "$ bangwo8 fake-server --port 8080\n" and lines[-1] == "...\n"
    assert printed.startswith("".join(lines[1:-1])), printed


def test_the_home_page_shows_the_readmes_quickstart_and_recipe() -> None:
    home = PAGES["index.md"]
    assert (
        blocks(section(home, "## Quickstart"), "python")[0]
        == blocks(section(README, "## Quickstart"), "python")[0]
    )
    ours = section(home, "### Using the fake server from the Quickstart")
    theirs = section(README, "### Using the fake server from the Quickstart")
    assert blocks(ours, "sh") == blocks(theirs, "sh")
    assert blocks(ours, "python") == blocks(theirs, "python")


# -- the fake server and the pytest plugin ----------------------------------------------------


TESTING = PAGES["testing.md"]


def _fixture_example() -> str:
    (example,) = [b for b in blocks(TESTING, "python") if "def test_" in b]
    return example


@pytest.mark.parametrize("mode", ["auto", "strict"])
def test_the_plugin_settings_work_in_a_downstream_project(tmp_path: Path, mode: str) -> None:
    (settings,) = blocks(section(TESTING, "### pytest-asyncio settings for the plugin"), "toml")
    example = _fixture_example()
    if mode == "strict":  # the page's alternative: the default mode and a mark
        settings = settings.replace('asyncio_mode = "auto"\n', "")
        assert "asyncio_mode" not in settings
        example = "import pytest\n" + example.replace(
            "\nasync def ", "\n@pytest.mark.asyncio\nasync def "
        )
    (tmp_path / "pyproject.toml").write_text(settings + 'filterwarnings = ["error"]\n')
    (tmp_path / "test_mine.py").write_text(example)  # the page's own example, as it stands
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{example.count('async def test_')} passed" in done.stdout
    assert "warning" not in done.stdout.lower()


def _table_rows(text: str, column: str) -> list[dict[str, str]]:
    """The rows of every Markdown table that has a ``column``, each cell under its header."""
    rows: list[dict[str, str]] = []
    header: list[str] = []
    for line in [*text.splitlines(), ""]:
        if not line.startswith("| "):
            header = []
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if not header:
            header = cells
        elif not line.startswith("| ---") and column in header:
            rows.append(dict(zip(header, cells, strict=True)))
    return rows


def _value(cell: str) -> Any:
    """A table cell's literal (``"gbk"``, ``0.0``, ``None``) or a name in bangwo8_async.testing."""
    text = cell.strip("`")
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return getattr(bangwo8_async.testing, text)


def test_every_fake_server_option_is_documented_with_its_default() -> None:
    defaults = {
        name: p.default
        for name, p in inspect.signature(FakeBangwo8.__init__).parameters.items()
        if p.kind is p.KEYWORD_ONLY
    }
    documented = {
        row["option"].strip("`"): row["default"] for row in _table_rows(TESTING, "option")
    }
    assert sorted(documented) == sorted(defaults), "options of FakeBangwo8 and of docs/testing.md"
    for name, cell in documented.items():
        assert _value(cell) == defaults[name], f"{name}: documented {cell}, is {defaults[name]!r}"


def test_every_fault_kind_and_rate_faults_are_documented_as_the_code_has_them() -> None:
    rows = {row["`Fault`"].strip("`"): row["value"] for row in _table_rows(TESTING, "`Fault`")}
    assert {name: _value(cell) for name, cell in rows.items()} == {f.name: f.value for f in Fault}
    listed = re.search(r"`RATE_FAULTS = \(([^)]*)\)`", TESTING)
    assert listed, "docs/testing.md no longer spells out RATE_FAULTS"
    assert [name.strip() for name in listed[1].split(",")] == [f.name for f in RATE_FAULTS]
    assert "`HTML_OK`" in TESTING and "`SLOW`" in TESTING


# -- the command line -------------------------------------------------------------------------


def _subparsers(
    top: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, top
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, (*path, name))


# ``bangwo8 sync`` is documented on docs/warehouse.md, by the work that builds it.
COMMANDS = [(path, p) for path, p in _subparsers(parser()) if path[:1] != ("sync",)]


def test_every_flag_of_the_command_line_is_documented_in_exports_with_its_default() -> None:
    exports = PAGES["exports.md"]
    actions: dict[str, list[argparse.Action]] = {}
    for _, p in COMMANDS:
        for action in p._actions:
            for flag in action.option_strings:
                actions.setdefault(flag, []).append(action)
    for flag in actions.keys() - {"-h", "--help"}:
        assert f"`{flag}`" in exports, f"docs/exports.md does not mention {flag}"
    rows = _table_rows(exports, "flag")
    assert len(rows) >= 30
    for row in rows:
        default = row["default"]
        for name in re.findall(r"`(-[\w-]+)`", row["flag"]):
            assert name in actions, f"docs/exports.md documents {name}, which does not exist"
            literal = re.fullmatch(r"`([^`$]+)`", default)
            values = {a.default for a in actions[name]} - {None, False}
            if literal and values and not literal[1].startswith("-"):
                assert any(str(v) == literal[1] or _same_number(v, literal[1]) for v in values), (
                    f"{name}: documented default {default}, the parser has {values}"
                )


def test_the_exports_fields_are_named_as_the_models_have_them() -> None:
    short = section(PAGES["exports.md"], "## Formats, in short")
    named = re.search(r"\((`call_task_id`.*?) for a task;\n?(.*?) for a customer\)", short, re.S)
    assert named, "docs/exports.md no longer names the exported fields"
    task, user = (re.findall(r"`(\w+)`", part) for part in named.groups())
    assert task == [f.name for f in attrs.fields(bw.CallTask)]
    assert user == [f.name for f in attrs.fields(bw.TaskUser)]


def _same_number(value: Any, text: str) -> bool:
    try:
        return float(value) == float(text)
    except (TypeError, ValueError):
        return False


def _commands(lang: str) -> Iterator[tuple[str, list[str]]]:
    """Every command line of the code blocks in ``lang``: (page, words), pipes and && split."""
    for page, text in everything().items():
        for block in blocks(text, lang):
            for line in _logical_lines(block, lang):
                lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
                lexer.whitespace_split = True
                lexer.commenters = "#"
                words: list[str] = []
                for token in [*lexer, "&&"]:
                    if token in ("&&", "||", "|", ";", "&", ">", "<"):
                        if words:
                            yield page, words
                        words = []
                    else:
                        words.append(token)


def _logical_lines(block: str, lang: str) -> Iterator[str]:
    """A block's commands: continued lines joined, a quote open across lines kept whole."""
    pending = ""
    for line in re.sub(r"\\\n\s*", " ", block).splitlines():
        if not pending and lang == "console":
            if not line.startswith("$ "):
                continue
            line = line[2:]
        pending = f"{pending}\n{line}" if pending else line
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # no closing quotation yet
            continue
        yield pending
        pending = ""
    assert not pending, pending


def _all_commands() -> list[tuple[str, list[str]]]:
    return [c for lang in ("sh", "console") for c in _commands(lang)]


def test_every_bangwo8_command_in_the_readme_and_docs_is_one_it_accepts() -> None:
    seen = 0
    for page, words in _all_commands():
        if words[0] != "bangwo8":
            continue
        seen += 1
        out, err = io.StringIO(), io.StringIO()
        code: object = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                parser().parse_args(words[1:])
            except SystemExit as exc:  # --help and --version exit 0
                code = exc.code
        assert code == 0, f"{page}: `{shlex.join(words)}`: {err.getvalue()}"
    assert seen >= 20


def test_every_benchmark_is_documented_and_every_benchmark_command_exists() -> None:
    scripts = {p.stem for p in (ROOT / "benchmarks").glob("[!_]*.py")}
    commands = [w for _, w in _all_commands() if w[:2] == ["python", "-m"] and "." in w[2]]
    commands = [w for w in commands if w[2].startswith("benchmarks.")]
    assert commands
    for words in commands:
        name = words[2].split(".", 1)[1]
        assert name in scripts, f"`{shlex.join(words)}`: no benchmarks/{name}.py"
        source = (ROOT / "benchmarks" / f"{name}.py").read_text()
        for flag in (w for w in words[3:] if w.startswith("--")):
            assert f'"{flag}"' in source, f"`{shlex.join(words)}`: {name} has no {flag}"
    in_page = set(re.findall(r"python -m benchmarks\.(\w+)", PAGES["benchmarks.md"]))
    assert in_page == scripts, "every script under benchmarks/ has its command on the page"


# -- the examples -----------------------------------------------------------------------------


def _python_blocks() -> list[tuple[str, int, str]]:
    return [
        (page, i, block)
        for page, text in everything().items()
        for i, block in enumerate(blocks(text, "python"))
    ]


@pytest.mark.parametrize(
    ("page", "index", "block"),
    [pytest.param(*b, id=f"{b[0]}[{b[1]}]") for b in _python_blocks()],
)
def test_every_python_block_compiles(page: str, index: int, block: str) -> None:
    code = textwrap.dedent(block)
    if code.rstrip().endswith(":"):  # a line to put in place of another (the Quickstart's swap)
        code += "    ...\n"
    compile(code, f"{page}[{index}]", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


# The pages whose examples run here. Another page's join with one edit, once its examples run
# against the fake as they stand (these need nothing but the fake and the exports below).
RUN = {"index.md", "paging.md", "exports.md", "testing.md", "benchmarks.md"}


def _runnable() -> list[Any]:
    """The examples on the docs pages that run as they are (the Quickstart, the pytest
    example and the README's swap line have tests of their own)."""
    found = []
    for page, index, block in _python_blocks():
        if page not in RUN or "def test_" in block or "bw.BasicAuth(" in block:
            continue
        if block.startswith(" "):  # a line to put in place of another
            continue
        found.append(pytest.param(page, index, block, id=f"{page}[{index}]"))
    return found


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The exports the pages read, made as the pages make them (``bangwo8 export ... --fake``)."""
    where = tmp_path_factory.mktemp("exports")
    env = {**ENV, "PATH": BIN + os.pathsep + ENV.get("PATH", "")}
    for what, output in (
        ("tasks", "tasks.jsonl"),
        ("users", "users.csv"),
        ("tasks", "bangwo8.db"),
        ("users", "bangwo8.db"),
    ):
        subprocess.run(
            ["bangwo8", "export", what, "--fake", "-o", output],
            cwd=where,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    return where


@pytest.mark.parametrize(("page", "index", "block"), _runnable())
async def test_every_example_on_the_docs_pages_runs_against_the_fake(
    page: str,
    index: int,
    block: str,
    exports: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for module in re.findall(r"^import (\w+)", block, re.M):
        pytest.importorskip(module)
    for name in [k for k in os.environ if k.startswith("BANGWO8_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(exports)
    async with FakeBangwo8() as fake:
        monkeypatch.setenv("BANGWO8_BASE_URL", fake.base_url)
        monkeypatch.setenv("BANGWO8_ACCOUNT", fake.account)
        monkeypatch.setenv("BANGWO8_PASSWORD", fake.password)
        code = compile(block, f"{page}[{index}]", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, {"__name__": "__example__"})  # the docs' own code
        if asyncio.iscoroutine(result):
            await result
    assert capsys.readouterr().out  # every example shows what it did


# -- names and links --------------------------------------------------------------------------


def test_every_test_named_as_a_promises_proof_exists() -> None:
    promises = section(PAGES["index.md"], "## The promises, and the tests that prove them")
    named = 0
    for row in _table_rows(promises, "proved in"):
        where = None
        for ref in re.findall(
            r"`(tests/[\w/]+\.py|::[\w*]+|tests/[\w/]+\.py::[\w*]+)`", row["proved in"]
        ):
            file, _, name = ref.partition("::")
            where = ROOT / file if file else where
            assert where is not None and where.exists(), ref
            if name:
                pattern = re.escape(name.rstrip("*")) + (r"\w*" if name.endswith("*") else r"\b")
                assert re.search(rf"^(?:async )?def {pattern}", where.read_text(), re.M), ref
                named += 1
    assert named >= 20


def _resolve(target: str) -> object:
    module, _, rest = target.partition(".")
    obj: object = importlib.import_module(module)
    parts = rest.split(".") if rest else []
    while parts:
        try:
            obj = importlib.import_module(f"{obj.__name__}.{parts[0]}")  # type: ignore[attr-defined]
        except (ImportError, AttributeError):
            obj = getattr(obj, parts[0])
        parts.pop(0)
    return obj


def test_every_bw_name_in_the_readme_and_docs_exists() -> None:
    names = set()
    for text in everything().values():
        names |= set(re.findall(r"\bbw\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)", text))
    assert {"__version__", "Session.from_env", "iter_call_tasks"} <= names
    for name in sorted(names):
        _resolve(f"bangwo8_async.{name}")  # AttributeError names what does not exist


def _public_names() -> set[str]:
    names = {n for n in bw.__all__ if n != "__version__"} | {
        "Session.from_env",
        "Session.concurrency",
    }
    testing = {f"testing.{n}" for n in bangwo8_async.testing.__all__}
    return (
        names
        | testing
        | {"testing.pytest_plugin.bangwo8_fake", "testing.pytest_plugin.bangwo8_fake_factory"}
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The docs site, built as CI builds it: strictly, any warning an error."""
    pytest.importorskip("mkdocstrings")
    where = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(where)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return where


def _ids(html: Path) -> set[str]:
    return set(re.findall(r' id="([^"]+)"', html.read_text()))


def test_every_public_name_has_its_entry_in_the_built_reference(site: Path) -> None:
    reference = (site / "reference" / "index.html").read_text()
    # docs/griffe_rst.py turns the docstrings' reST into Markdown: none of it shows verbatim.
    assert not re.findall(r":(?:class|meth|func|data|attr|exc|mod):`", reference)
    assert "<blockquote>" not in reference  # what Markdown makes of a bare ``>>>``
    ids = _ids(site / "reference" / "index.html")
    missing = sorted(n for n in _public_names() if f"bangwo8_async.{n}" not in ids)
    assert not missing, f"no entry in the reference for {missing}"


def _links() -> list[tuple[str, str]]:
    """Every link from the README to the docs site, and from a page to the reference."""
    found = [(u, "README.md") for u in re.findall(rf"\]: ({re.escape(SITE)}\S*)$", README, re.M)]
    found += [(u, "README.md") for u in re.findall(rf"\]\(({re.escape(SITE)}[^)]*)\)", README)]
    for page, text in PAGES.items():
        found += [
            (SITE + "reference/#" + a, page)
            for a in re.findall(r"\]\(reference\.md#([^)]+)\)", text)
        ]
    return found


def test_every_link_lands_on_a_page_and_an_anchor_of_the_built_site(site: Path) -> None:
    links = _links()
    assert {u for u, _ in links} >= {
        SITE + p for p in ("paging/", "exports/", "testing/", "benchmarks/")
    }
    for url, page in links:
        path, _, anchor = url[len(SITE) :].partition("#")
        html = site / path / "index.html"
        assert html.exists(), f"{page}: {url} is no page of the site"
        if anchor:
            assert anchor in _ids(html), f"{page}: {url}: no such anchor"
            if path == "reference/":
                _resolve(anchor)  # and the reference names something that exists
