"""A small mutation runner: does some test fail when the code is changed a little?

Usage (from the repository root, in the project's venv)::

    python tools/mutate.py bangwo8_async/paging/window.py bangwo8_async/paging/engine.py
    python tools/mutate.py --sample 150 --seed 19 bangwo8_async/_*.py
    python tools/mutate.py --list bangwo8_async/backoff.py

Each mutant is one small change made with :mod:`ast`: an operator swapped
(``+``/``-``, ``*``/``//``, ``&``/``|``, ``and``/``or``), a comparison
flipped (``<``/``<=``, ``==``/``!=``, ``is``/``is not``, ``in``/``not in``),
a constant tweaked (``0``/``1``, ``n``/``n+1``, ``True``/``False``), a
``not`` or unary minus dropped, or a statement deleted (replaced by ``pass``).
Not mutated: docstrings, annotations, logging calls and ``__repr__`` (text
for people, not rows), ``assert`` (type narrowing for mypy), ``__all__``.

The suite is run once first with line tracing (``tools/_linemap.py``, also
in the Python processes tests start) to learn which tests run which lines.
Then each mutant is written into a copy of the repository, never the work
tree, and only the tests that run its line are run against it, fastest
first, with ``-x -q -p no:cacheprovider`` and a per-test timeout. A mutant
is *killed* when a test fails, *timeout* when the run hangs (it counts as
killed: the time limit fails the suite), *survived* when all pass, and
*uncovered* when no test runs its line (a survivor too). The score is
(killed + timeout) / (all - invalid - equivalent); ``--equivalent FILE``
names, one ``ID  # reason`` a line, survivors judged equivalent.
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORED = [".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"]
IGNORED += [".hypothesis", "site", "build", "dist"]
STOPPING = threading.Event()  # set on SIGTERM: the workers finish their mutant and stop
DEFAULT_MAP = Path(tempfile.gettempdir()) / "bangwo8-mutate" / "linemap.json"

SWAPS: dict[type[ast.AST], type[ast.AST]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.BitOr: ast.BitAnd,
    ast.BitAnd: ast.BitOr,
    ast.BitXor: ast.BitOr,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
    ast.And: ast.Or,
    ast.Or: ast.And,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
DELETABLE: tuple[type[ast.stmt], ...] = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign)
DELETABLE += (ast.Return, ast.Raise, ast.Break, ast.Continue, ast.Delete)


@dataclass
class Mutant:
    """One change to one module: where, what it was, what it becomes."""

    module: str  # path relative to the repository root
    line: int  # of the statement that holds the change: what the line map knows
    col: int
    kind: str
    before: str
    after: str
    start: int = field(repr=False)  # byte offsets of the replaced span in the source
    end: int = field(repr=False)
    status: str = ""
    tests_run: int = 0
    seconds: float = 0.0
    killer: str = ""
    toplevel: bool = False  # runs at import: every test of the module may depend on it

    @property
    def id(self) -> str:
        """Stable while the module does not change: module:line:col:kind."""
        return f"{self.module}:{self.line}:{self.col}:{self.kind}"

    def apply(self, source: bytes) -> bytes:
        return source[: self.start] + self.after.encode() + source[self.end :]

    def diff(self, source: bytes) -> str:
        old = source.decode().splitlines(keepends=True)
        new = self.apply(source).decode().splitlines(keepends=True)
        lines = difflib.unified_diff(old, new, self.module, self.module + " (mutant)", n=0)
        return "".join(list(lines)[2:])


# -- finding mutants ------------------------------------------------------------------------


class Finder(ast.NodeVisitor):
    """Walks a module and lists its mutants, skipping what is not behaviour."""

    def __init__(self, module: str, source: bytes) -> None:
        self.module = module
        self.source = source
        self.starts = [0]
        for line in source.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))
        self.found: list[Mutant] = []
        self.statement: ast.stmt | None = None
        self.depth = 0  # functions we are in

    def offset(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end

    def add(self, node: ast.AST, kind: str, replacement: ast.AST | str) -> None:
        start, end = self.span(node)
        before = self.source[start:end].decode()
        after = replacement if isinstance(replacement, str) else f"({ast.unparse(replacement)})"
        assert self.statement is not None
        line = self.statement.lineno
        col = node.col_offset  # type: ignore[attr-defined]
        mutant = Mutant(self.module, line, col, kind, before, after, start, end)
        mutant.toplevel = self.depth == 0
        self.found.append(mutant)

    # Skipped wholesale.
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name != "__repr__":
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    self.visit(default)
            self.function_body(node.body)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.function_body(node.body)

    def function_body(self, body: list[ast.stmt]) -> None:
        self.depth += 1
        self.visit_body(body)
        self.depth -= 1

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.visit_body(node.body)

    def visit_Module(self, node: ast.Module) -> None:
        self.visit_body(node.body)

    def visit_body(self, body: list[ast.stmt]) -> None:
        for i, statement in enumerate(body):
            docstring = i == 0 and _is_docstring(statement)
            if docstring or _is_skipped(statement):
                continue
            outer, self.statement = self.statement, statement
            if isinstance(statement, DELETABLE):
                self.add(statement, "delete", "pass")
            self.visit(statement)
            self.statement = outer

    def visit_statement(self, statement: ast.stmt) -> None:
        for name, value in ast.iter_fields(statement):
            if name in ("annotation", "returns", "decorator_list", "targets", "target"):
                continue
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                self.visit_body(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.stmt):
            self.visit_statement(node)
        elif not isinstance(node, ast.JoinedStr):  # f-strings: text
            super().generic_visit(node)

    # The mutations.
    def visit_BinOp(self, node: ast.BinOp) -> None:
        swap = SWAPS.get(type(node.op))
        if swap is not None:
            self.add(node, f"{_op(node.op)}>{_op(swap())}", _replaced(node, op=swap()))
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        swap = SWAPS.get(type(node.op))
        if swap is not None:
            kind = f"{_op(node.op)}=>{_op(swap())}="
            self.add(node, kind, ast.unparse(_replaced(node, op=swap())))
        self.visit(node.value)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        swap = SWAPS[type(node.op)]
        self.add(node, f"{_op(node.op)}>{_op(swap())}", _replaced(node, op=swap()))
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        for i, op in enumerate(node.ops):
            swap = SWAPS.get(type(op))
            if swap is not None:
                ops = [*node.ops[:i], swap(), *node.ops[i + 1 :]]
                self.add(node, f"{_op(op)}>{_op(swap())}#{i}", _replaced(node, ops=ops))
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, (ast.Not, ast.USub)):
            self.add(node, f"drop-{_op(node.op)}", node.operand)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            self.add(node, f"{value}>{not value}", ast.Constant(not value))
        elif isinstance(value, int):
            new = {0: 1, 1: 0}.get(value, value + 1)
            self.add(node, f"{value}>{new}", ast.Constant(new))
        elif isinstance(value, float):
            self.add(node, f"{value}>{value + 1}", ast.Constant(value + 1))

    def visit_Call(self, node: ast.Call) -> None:
        if not _is_logging(node):
            self.generic_visit(node)


def _op(op: ast.AST) -> str:
    """The operator's name, lower case, for mutant IDs: ``add``, ``lte``, ``isnot``."""
    return type(op).__name__.lower()


def _replaced(node: ast.AST, **changes: object) -> ast.AST:
    new = copy.copy(node)
    for name, value in changes.items():
        setattr(new, name, value)
    return new


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _is_logging(node: ast.AST) -> bool:
    """``logger.info(...)`` and the like: what a person reads, not what the code does."""
    if isinstance(node, ast.Expr):
        node = node.value
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    owner = node.func.value
    return isinstance(owner, ast.Name) and owner.id in ("logger", "logging", "log")


def _is_skipped(statement: ast.stmt) -> bool:
    if isinstance(statement, (ast.Assert, ast.Import, ast.ImportFrom, ast.Pass)):
        return True
    if _is_logging(statement):
        return True
    if isinstance(statement, ast.Assign):
        names = [t.id for t in statement.targets if isinstance(t, ast.Name)]
        return names == ["__all__"]
    if isinstance(statement, ast.If):  # if TYPE_CHECKING:
        test = statement.test
        return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
    return False


def find_mutants(module: str) -> list[Mutant]:
    """Every valid mutant of ``module``: it compiles and changes the module's AST."""
    source = (ROOT / module).read_bytes()
    tree = ast.parse(source)
    finder = Finder(module, source)
    finder.visit(tree)
    original = ast.dump(tree)
    valid = []
    for mutant in finder.found:
        try:
            changed = ast.dump(ast.parse(mutant.apply(source))) != original
        except SyntaxError:
            changed = False
        if changed:
            valid.append(mutant)
    return valid


# -- which tests to run ---------------------------------------------------------------------


def line_map(copy_root: Path, modules: list[str], cache: Path, rebuild: bool) -> dict[str, object]:
    """Which tests run each line of ``modules``: run the suite once with tracing, or reuse."""
    if cache.exists() and not rebuild:
        data: dict[str, object] = json.loads(cache.read_text())
        if set(modules) <= set(data.get("modules", [])):  # type: ignore[call-overload]
            print(f"line map: reusing {cache} (--rebuild-map after changing the tests)")
            return data
    cache.parent.mkdir(parents=True, exist_ok=True)
    targets = os.pathsep.join(str(copy_root / m) for m in modules)
    env = _env(copy_root)
    env["PYTHONPATH"] = os.pathsep.join([str(copy_root / "tools" / "_trace"), env["PYTHONPATH"]])
    env.update(MUTATE_TRACE_TARGETS=targets, MUTATE_MAP=str(cache))
    print("line map: running the suite once with line tracing ...", flush=True)
    began = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tools._linemap"],
        cwd=copy_root,
        env=env,
        capture_output=True,
        text=True,
    )
    failed = [ln.split(" ")[1] for ln in run.stdout.splitlines() if ln.startswith("FAILED ")]
    if run.returncode != 0 and not (failed and cache.exists()):
        sys.exit(f"the suite cannot run without a mutant; fix it first:\n{run.stdout[-3000:]}")
    for test in failed:  # timing-sensitive tests can fail slowed down by tracing
        print(f"line map: {test} failed while traced; it is left out of the runs", flush=True)
    print(f"line map: {time.monotonic() - began:.0f}s", flush=True)
    raw = json.loads(cache.read_text())
    raw["failed"] = failed
    for tests in (t for by_line in raw["lines"].values() for t in by_line.values()):
        tests[:] = [t for t in tests if t not in failed]
    prefix = str(copy_root) + os.sep
    raw["lines"] = {k.removeprefix(prefix): v for k, v in raw["lines"].items()}
    raw["modules"] = modules
    cache.write_text(json.dumps(raw))
    result: dict[str, object] = raw
    return result


def tests_for(mutant: Mutant, lines: dict[str, dict[str, list[str]]]) -> list[str]:
    """The tests that run the mutant's statement (or the line of the change itself)."""
    by_line = lines.get(mutant.module, {})
    if mutant.toplevel:  # ran at import, before any test: every test of the module counts
        return sorted({test for tests in by_line.values() for test in tests})
    found = set(by_line.get(str(mutant.line), []))
    change_line = mutant.line + mutant_offset_lines(mutant)
    found |= set(by_line.get(str(change_line), []))
    return sorted(found)


def mutant_offset_lines(mutant: Mutant) -> int:
    """Lines between the statement's first line and the change (a multi-line statement)."""
    source = (ROOT / mutant.module).read_bytes()
    return source[: mutant.start].count(b"\n") + 1 - mutant.line


# -- running ---------------------------------------------------------------------------------


def _env(copy_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "MUTATE_"))}
    env["PYTHONPATH"] = str(copy_root)  # the copy, not the editable install's work tree
    env["PYTHONPYCACHEPREFIX"] = str(copy_root / ".mutate-pycache")
    return env


def make_copy() -> Path:
    where = Path(tempfile.mkdtemp(prefix="bangwo8-mutate-"))
    shutil.copytree(ROOT, where / "repo", ignore=shutil.ignore_patterns(*IGNORED))
    return where / "repo"


def _forget_bytecode(copy_root: Path, module: str) -> None:
    """A mutant can keep the module's size and mtime second: never let a stale .pyc run."""
    stem = Path(module).stem
    for pyc in (copy_root / ".mutate-pycache").rglob(f"{stem}.*.pyc"):
        pyc.unlink()


def _pytest(copy_root: Path, tests: list[str], timeout: float, budget: float) -> tuple[str, str]:
    """Run ``tests`` in the copy: (killed|survived|timeout|error, the first failure)."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    command += ["-o", f"timeout={timeout:g}", "-o", "timeout_method=thread", "-o", "addopts="]
    try:
        run = subprocess.run(
            command + tests,
            cwd=copy_root,
            env=_env(copy_root),
            capture_output=True,
            text=True,
            timeout=budget,
        )
    except subprocess.TimeoutExpired:
        return "timeout", ""
    out = run.stdout + run.stderr
    if "+ Timeout +" in out:
        return "timeout", ""
    if run.returncode == 0:
        return "survived", ""
    if run.returncode in (4, 5):  # a usage error, or no test collected: the tool's fault
        return "error", out[-500:]
    # A test failed, or the mutant broke collection or a plugin's import.
    failed = [ln for ln in out.splitlines() if ln.startswith(("FAILED ", "ERROR "))]
    return "killed", failed[0] if failed else f"exit {run.returncode}: {out[-200:]!r}"


def _failed_test(killer: str) -> str | None:
    """The node ID in a ``FAILED tests/x.py::name - message`` line."""
    if not killer.startswith(("FAILED ", "ERROR ")):
        return None
    return killer.split(" ", 1)[1].split(" - ", 1)[0]


def run_mutant(
    mutant: Mutant, tests: list[str], copy_root: Path, args: argparse.Namespace, slow: set[str]
) -> None:
    """Apply ``mutant`` to the copy, run ``tests`` against it, restore; record the outcome.

    A kill by a slow test (a subprocess, a real server) is checked: that test
    run alone without the mutant must pass, or the mutant is run once more.
    """
    if not tests:
        mutant.status = "uncovered"
        return
    target = copy_root / mutant.module
    original = target.read_bytes()
    began = time.monotonic()
    for _attempt in range(2):
        target.write_bytes(mutant.apply(original))
        _forget_bytecode(copy_root, mutant.module)
        try:
            mutant.status, mutant.killer = _pytest(copy_root, tests, args.timeout, args.budget)
        finally:
            target.write_bytes(original)
            _forget_bytecode(copy_root, mutant.module)
        killer = _failed_test(mutant.killer)
        if mutant.status != "killed" or killer not in slow:
            break
        status, _ = _pytest(copy_root, [killer], args.timeout, args.budget)
        if status == "survived":
            break  # the test passes without the mutant: the kill stands
        mutant.status = "flaky"  # it fails without the mutant too: try once more
        mutant.killer = f"{killer} fails without the mutant too"
    mutant.tests_run = len(tests)
    mutant.seconds = time.monotonic() - began


# -- reporting -------------------------------------------------------------------------------


def read_equivalent(path: Path | None) -> dict[str, str]:
    """``ID  # reason`` lines: survivors judged equivalent, and why."""
    if path is None:
        return {}
    found = {}
    for raw in path.read_text().splitlines():
        if raw.startswith("#"):
            continue
        ident, _, reason = raw.partition(" #")  # an ID may hold a "#" of its own
        if ident.strip():
            found[ident.strip()] = reason.strip()
    return found


def report(mutants: list[Mutant], equivalent: dict[str, str], total: int) -> float:
    """Print killed/survived/timeout per module and every survivor with its diff."""
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for m in mutants:
        if m.status in ("survived", "uncovered") and m.id in equivalent:
            m.status = "equivalent"
        by_module[m.module][m.status] += 1
    print(f"\n{len(mutants)} mutants run of {total} found")
    header = f"{'module':34} {'killed':>6} {'timeout':>7} {'survived':>8} {'uncov':>5}"
    print(header + f" {'equiv':>5} {'flaky':>5} {'error':>5} {'score':>6}")
    everything: Counter[str] = Counter()
    for module, counts in sorted(by_module.items()):
        everything.update(counts)
        print(_row(module, counts))
    print(_row("all", everything))
    for m in mutants:
        if m.status in ("survived", "uncovered", "error", "flaky"):
            print(f"\n{m.status.upper()} {m.id}  ({m.tests_run} tests)")
            print(m.diff((ROOT / m.module).read_bytes()).rstrip())
    unused = sorted(set(equivalent) - {m.id for m in mutants if m.status == "equivalent"})
    sampled = {m.id for m in mutants}
    for ident in unused:
        if ident in sampled:
            print(f"\nlisted as equivalent but killed now: {ident}")
    return _score(everything)


def _score(counts: Counter[str]) -> float:
    caught = counts["killed"] + counts["timeout"]
    judged = caught + counts["survived"] + counts["uncovered"] + counts["flaky"]
    return 100.0 * caught / judged if judged else 100.0


def _row(module: str, c: Counter[str]) -> str:
    cells = [c["killed"], c["timeout"], c["survived"], c["uncovered"], c["equivalent"]]
    cells += [c["flaky"], c["error"]]
    widths = [6, 7, 8, 5, 5, 5, 5]
    body = " ".join(f"{v:>{w}}" for v, w in zip(cells, widths, strict=True))
    return f"{module:34} {body} {_score(c):5.1f}%"


# -- the command -----------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="+", help="module paths, relative to the root")
    parser.add_argument("--sample", type=int, help="run this many mutants, drawn with --seed")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--timeout", type=float, default=30, help="seconds per test")
    parser.add_argument("--budget", type=float, default=600, help="seconds per mutant run")
    parser.add_argument(
        "--max-test-seconds",
        type=float,
        default=0,
        help="leave out tests that took longer in the line map's run (0: keep all)",
    )
    parser.add_argument("--equivalent", type=Path, help="file of ID  # reason lines")
    parser.add_argument("--list", action="store_true", help="list the mutants; run nothing")
    parser.add_argument("--rebuild-map", action="store_true", help="trace the suite again")
    parser.add_argument("--map", type=Path, default=DEFAULT_MAP, help="the line map's cache")
    parser.add_argument("--json", type=Path, help="write every mutant's outcome here")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once")
    parser.add_argument("--only", action="append", default=[], help="run this mutant ID only")
    parser.add_argument("--rerun", type=Path, help="run the survivors of an earlier --json")
    parser.add_argument(
        "--also", action="append", default=[], help="tests run for every mutant, after its own"
    )
    return parser.parse_args(argv)


def choose(args: argparse.Namespace) -> tuple[list[Mutant], int]:
    """The mutants to run, and how many there are in all."""
    everything = [m for module in args.modules for m in find_mutants(module)]
    chosen = everything
    wanted = set(args.only)
    if args.rerun is not None:
        earlier = json.loads(args.rerun.read_text())
        again = ("survived", "uncovered", "error", "flaky")
        wanted |= {m["id"] for m in earlier if m["status"] in again}
    if wanted:
        chosen = [m for m in everything if m.id in wanted]
    elif args.sample is not None and args.sample < len(everything):
        chosen = random.Random(args.seed).sample(everything, args.sample)
        chosen.sort(key=lambda m: (m.module, m.start))
    return chosen, len(everything)


def run_all(mutants: list[Mutant], args: argparse.Namespace) -> None:
    """Run every mutant, ``--jobs`` at a time, each worker in its own copy of the repository."""
    copies = [make_copy() for _ in range(max(1, args.jobs))]
    try:
        data = line_map(copies[0], sorted(set(args.modules)), args.map, args.rebuild_map)
        lines: dict[str, dict[str, list[str]]] = data["lines"]  # type: ignore[assignment]
        durations: dict[str, float] = data["durations"]  # type: ignore[assignment]
        slow = {test for test, seconds in durations.items() if seconds > 1.0}
        free: queue.Queue[Path] = queue.Queue()
        for spare in copies:
            free.put(spare)
        done = iter(range(1, len(mutants) + 1))
        lock = threading.Lock()

        def one(mutant: Mutant) -> None:
            if STOPPING.is_set():
                return
            tests = sorted(tests_for(mutant, lines), key=lambda t: durations.get(t, 0.0))
            if args.max_test_seconds:
                tests = [t for t in tests if durations.get(t, 0.0) <= args.max_test_seconds]
            tests += [t for t in args.also if t not in tests]
            where = free.get()
            try:
                run_mutant(mutant, tests, where, args, slow)
            finally:
                free.put(where)
            with lock:
                print(
                    f"[{next(done)}/{len(mutants)}] {mutant.status:9} {mutant.id}  "
                    f"{mutant.before!r:.40} -> {mutant.after!r:.40}  "
                    f"({mutant.tests_run} tests, {mutant.seconds:.1f}s) {mutant.killer[:90]}",
                    flush=True,
                )

        with ThreadPoolExecutor(len(copies)) as pool:
            list(pool.map(one, mutants))
    finally:
        for one_copy in copies:
            shutil.rmtree(one_copy.parent, ignore_errors=True)


def _stop(*_: object) -> None:
    """SIGTERM: run no more mutants, let the running ones end, remove the copies, report."""
    STOPPING.set()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _stop)
    mutants, total = choose(args)
    if args.list:
        for m in mutants:
            print(f"{m.id}  {m.before!r} -> {m.after!r}")
        print(f"{len(mutants)} of {total}")
        return 0
    began = time.monotonic()
    run_all(mutants, args)
    mutants = [m for m in mutants if m.status]  # stopped early: only those that ran
    score = report(mutants, read_equivalent(args.equivalent), total)
    print(f"\nscore {score:.1f}% in {time.monotonic() - began:.0f}s")
    if args.json:
        args.json.write_text(json.dumps([asdict(m) | {"id": m.id} for m in mutants], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
