"""A griffe extension for the API reference: the docstrings' reST markup, as Markdown.

The package's docstrings are written for Python's own tools, in a little reST,
which Markdown would mangle. Three forms are translated:

- A Sphinx role (``:class:`Page```, ``:meth:`inject```) becomes inline code,
  linked (through mkdocs-autorefs) when its target is an entry the reference
  renders: a public name of ``bangwo8_async`` or ``bangwo8_async.testing``, or
  a public member of one. Anything else (a private helper, a module) stays
  plain code, so an unresolvable link never breaks the strict build.
- A doctest (``>>>`` lines, ``...`` continuations, their output) becomes a
  ``pycon`` code block; Markdown would read ``>>>`` as nested quotes.
- A paragraph ending in ``::`` before an indented literal block ends in ``:``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import griffe

ROOT = "bangwo8_async"
PUBLIC_MODULES = (ROOT, f"{ROOT}.testing", f"{ROOT}.testing.pytest_plugin")
LITERAL = re.compile(r"^(.*?)::$(?=\n\n[ \t])", re.M)
ROLE = re.compile(r":(?:py:)?(?:class|meth|func|data|attr|exc|obj|mod):`(~?)([\w.]+)(\(\))?`")


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring of the package once it is loaded."""

    def __init__(self) -> None:
        super().__init__()
        self._done: set[int] = set()

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        # Once per loaded package: fencing doctests twice would nest the fences.
        if pkg.path != ROOT or id(pkg) in self._done:
            return
        self._done.add(id(pkg))
        public = _public_paths(pkg)
        for obj in _walk(pkg):
            if obj.docstring is not None:
                render = functools.partial(_render, pkg, obj, public)
                text = ROLE.sub(render, obj.docstring.value)
                obj.docstring.value = _literal_blocks(_doctests(text))

    # The same event under its older griffe name; the guard above makes a second call a no-op.
    on_package_loaded = on_package


def _doctests(text: str) -> str:
    """Fence each run of doctest lines (and the output lines right after them) as pycon."""
    out: list[str] = []
    inside = False
    for line in text.split("\n"):
        prompt = line.lstrip().startswith((">>>", "... ")) or line.strip() == "..."
        if prompt and not inside:
            out.append("```pycon")
            inside = True
        elif inside and not line.strip():
            out.append("```")
            inside = False
        out.append(line)
    if inside:
        out.append("```")
    return "\n".join(out)


def _literal_blocks(text: str) -> str:
    """``text::`` before an indented block reads ``text:``; a lone ``::`` goes."""
    return LITERAL.sub(lambda m: "" if not m.group(1).strip() else m.group(1) + ":", text)


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    """Every object defined in the package (aliases are the same objects, seen elsewhere)."""
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias and isinstance(member, griffe.Object):
            found.extend(_walk(member))
    return found


def _public_paths(pkg: griffe.Module) -> dict[str, str]:
    """Where each public object is rendered, by its canonical path."""
    public: dict[str, str] = {}
    for module_path in PUBLIC_MODULES:
        module = _lookup(pkg, module_path)
        if not isinstance(module, griffe.Module):
            continue
        if module.exports is not None:
            names = [str(name) for name in module.exports]
        else:  # what the module defines, not what it imports
            names = [name for name, member in module.members.items() if not member.is_alias]
        for name in names:
            canonical = _canonical(_lookup(pkg, f"{module_path}.{name}"))
            if canonical is not None and not name.startswith("_"):
                public.setdefault(canonical, f"{module_path}.{name}")
    return public


def _canonical(found: griffe.Object | griffe.Alias | None) -> str | None:
    """Where an object is defined; ``None`` for an import from outside the package."""
    if found is None:
        return None
    try:
        return found.canonical_path
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _lookup(pkg: griffe.Module, path: str) -> griffe.Object | griffe.Alias | None:
    if path == ROOT:
        return pkg
    if not path.startswith(ROOT + "."):
        return None
    try:
        found: griffe.Object | griffe.Alias = pkg[path[len(ROOT) + 1 :]]
    except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
    return found


def _render(
    pkg: griffe.Module, obj: griffe.Object, public: dict[str, str], m: re.Match[str]
) -> str:
    short, target, call = m.group(1), m.group(2), m.group(3) or ""
    text = f"`{target.rsplit('.', 1)[-1] if short else target}{call}`"
    where = _rendered_at(pkg, obj, target, public)
    return f"[{text}][{where}]" if where else text


def _rendered_at(
    pkg: griffe.Module, obj: griffe.Object, target: str, public: dict[str, str]
) -> str | None:
    """The reference entry of ``target`` as written in ``obj``'s docstring, if there is one."""
    scopes = [obj.path, obj.parent.path if obj.parent else "", obj.module.path, ROOT, ""]
    for scope in scopes:
        canonical = _canonical(_lookup(pkg, f"{scope}.{target}" if scope else target))
        if canonical is None:
            continue
        parts = canonical.split(".")
        for cut in range(len(parts), 0, -1):
            head = ".".join(parts[:cut])
            if head in public:
                rest = parts[cut:]
                if any(part.startswith("_") for part in rest):
                    return None
                return ".".join([public[head], *rest])
        return None
    return None
