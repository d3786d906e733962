"""The README does what it says: Quickstart, fake-server recipe, plugin settings, API list."""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import bangwo8_async as bw
import bangwo8_async.testing

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("BANGWO8_", "PYTEST_"))}
BIN = str(Path(sys.executable).parent)

# Contract names that other work is adding; the README lists them already. Delete each one
# from here when it lands, so that its line and link are checked like the rest.
NOT_YET: set[str] = set()


def section(heading: str) -> str:
    """The README text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = README.index(f"\n{heading}\n") + len(heading) + 2
    heads = re.compile(rf"^#{{1,{len(level)}}} ", re.M)
    ends = [m.start() for m in heads.finditer(README[start:])]
    return README[start : start + ends[0]] if ends else README[start:]


def blocks(text: str, lang: str) -> list[str]:
    """The fenced code blocks of one language, in order."""
    return re.findall(rf"^```{re.escape(lang)}\n(.*?)^```$", text, re.M | re.S)


def test_the_quickstart_runs_against_the_fake_server_as_described(tmp_path: Path) -> None:
    quickstart = blocks(section("## Quickstart"), "python")[0]
    how = section("### Using the fake server from the Quickstart")
    _, start = blocks(how, "sh")
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


@pytest.mark.parametrize("mode", ["auto", "strict"])
def test_the_plugin_settings_work_in_a_downstream_project(tmp_path: Path, mode: str) -> None:
    (settings,) = blocks(section("### pytest-asyncio settings for the plugin"), "toml")
    if mode == "strict":  # the README's alternative: the default mode and a mark
        settings = settings.replace('asyncio_mode = "auto"\n', "")
        assert "asyncio_mode" not in settings
    (tmp_path / "pyproject.toml").write_text(settings + 'filterwarnings = ["error"]\n')
    mark = "@pytest.mark.asyncio\n" if mode == "strict" else ""
    (tmp_path / "test_mine.py").write_text(
        "import pytest\n\nimport bangwo8_async as bw\n\n\n"
        f"{mark}async def test_report(bangwo8_fake):\n"
        "    async with bw.Session(bangwo8_fake.basic_auth, base_url=bangwo8_fake.base_url) as s:\n"
        "        page = await bw.list_call_tasks(s, per_page=3)\n"
        "    assert len(page.items) == 3\n\n\n"
        f"{mark}async def test_factory(bangwo8_fake_factory):\n"
        "    fake = await bangwo8_fake_factory(tasks=2)\n"
        "    assert len(fake.state) == 2\n"
    )
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
    assert "2 passed" in done.stdout
    assert "warning" not in done.stdout.lower()


GLANCE = section("## Public API at a glance")
LINKS = dict(re.findall(r"^\[([\w.]+)\]: (\S+)$", GLANCE, re.M))


def _public_names() -> set[str]:
    names = {n for n in bw.__all__ if n != "__version__"} | {"Session.from_env"}
    return names | set(bangwo8_async.testing.__all__) | {"bangwo8_fake", "bangwo8_fake_factory"}


def test_every_public_name_is_listed_at_a_glance_and_linked() -> None:
    assert "`bw.__version__`" in GLANCE
    missing = sorted(_public_names() - set(LINKS))
    assert not missing, f"add these to the README's 'Public API at a glance': {missing}"
    for name in LINKS.keys() - {"reference"}:
        assert f"][{name}]" in GLANCE, f"[{name}] is defined but no line links to it"


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


def test_every_link_at_a_glance_lands_on_an_entry_of_the_built_reference(tmp_path: Path) -> None:
    pytest.importorskip("mkdocstrings")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    reference = (tmp_path / "reference" / "index.html").read_text()
    # docs/griffe_rst.py turns the docstrings' reST into Markdown: none of it shows verbatim.
    assert not re.findall(r":(?:class|meth|func|data|attr|exc|mod):`", reference)
    assert "<blockquote>" not in reference  # what Markdown makes of a bare ``>>>``
    ids = set(re.findall(r' id="([^"]+)"', reference))
    base = LINKS.pop("reference")
    for name, url in LINKS.items():
        page, _, anchor = url.partition("#")
        assert page == base and anchor.endswith("." + name), url
        if name in NOT_YET:
            try:
                _resolve(anchor)
            except AttributeError:
                continue
        _resolve(anchor)  # the README names something that exists
        assert anchor in ids, f"{name}: no #{anchor} in the reference"
