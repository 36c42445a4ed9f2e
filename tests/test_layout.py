"""The package's layout: imports follow the data path, no cycles, pure stages stay pure."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.events import ROOT

PACKAGE = ROOT / "worker"

#: Each module's place on the data path (by dotted prefix; the longest prefix wins). A module
#: may import only modules of its own rank or lower: later stages build on earlier ones.
RANKS: dict[str, int] = {
    # shared by every stage: the error tree, settings, resources, small network helpers
    "worker.errors": 0,
    "worker.settings": 0,
    "worker.resources": 0,
    "worker.net": 0,
    "worker.intake": 1,  # what comes in: the event contract, addresses, the card rule
    "worker.logs": 2,
    "worker.metrics": 2,  # observability, used from every later stage
    "worker.render": 3,  # event -> message
    "worker.smtp": 4,  # everything that speaks SMTP
    # what a refusal or a report means: pure, and needed by the send path (RCPT refusals)
    "worker.bounces": 5,
    "worker.notices": 6,  # the record and its life cycle
    # reports coming back: tie-back and the inbound endpoint apply reports to notices
    "worker.bounces.ingest": 7,
    "worker.bounces.tieback": 7,
    "worker.bounces.server": 7,
    # provider webhooks: verified, tied back and applied as reports are
    "worker.webhooks": 7,
    "worker.webhooks.server": 9,  # wires the endpoints and waitress (worker.web.server)
    "worker.runtime": 8,  # the processes
    "worker.cli": 9,
    "worker.web": 9,  # operators
    "worker": 10,
    "worker.__main__": 10,  # `celery -A worker` and `python -m worker`
}
#: Stages that must stay free of I/O libraries (they are tested without any server).
PURE = (
    "worker.intake",
    "worker.render",
    "worker.bounces.mime",
    "worker.bounces.phrases",
    "worker.bounces.reasons",
    "worker.bounces.detectors",
    "worker.bounces.parse",
    "worker.bounces.bounce",
    "worker.bounces.mta",
)
IO_LIBRARIES = (
    "redis",
    "celery",
    "kombu",
    "flask",
    "werkzeug",
    "aiosmtplib",
    "aiosmtpd",
    "fakeredis",
    "prometheus_client",
)
MAX_LINES = 300
#: Modules allowed past MAX_LINES, each with the reason.
LONG_MODULES: dict[str, str] = {
    "worker.bounces.phrases": "data: the phrase tables, one reason per block",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str) -> Iterator[str]:
    """Every module ``name`` imports, at any depth of the file (function-local included)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield sub if sub in MODULES else base


def internal_edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name in MODULES:
        for target in imports(name):
            if target in MODULES and target != name:
                graph[name].add(target)
    return graph


def rank(name: str) -> int:
    best = max((p for p in RANKS if name == p or name.startswith(p + ".")), key=len)
    return RANKS[best]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_layout_has_no_import_cycle() -> None:
    assert cycles(internal_edges()) == []


def test_layout_cycle_detection_sees_a_cycle() -> None:
    # The detector itself must be able to fail.
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_layout_imports_follow_the_data_path() -> None:
    backwards = sorted(
        f"{a} ({rank(a)}) imports {b} ({rank(b)})"
        for a, targets in internal_edges().items()
        for b in targets
        if rank(b) > rank(a)
    )
    assert backwards == []


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith(PURE)])
def test_layout_pure_stages_import_no_io_library(name: str) -> None:
    used = sorted({t for t in imports(name) if t.split(".")[0] in IO_LIBRARIES})
    assert used == [], f"{name} imports {used}"


def test_layout_every_module_has_a_rank_and_a_docstring() -> None:
    for name, path in MODULES.items():
        rank(name)  # raises ValueError for a module outside every stage
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc, f"{name} has no docstring"
        assert len(doc.splitlines()[0]) <= 100, f"{name}: the first line is its one-line job"


def test_layout_top_level_holds_at_most_eight_modules() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, top


def test_layout_modules_stay_small() -> None:
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
        and name not in LONG_MODULES
    }
    assert long == {}


def test_layout_tests_use_only_the_redis_database_they_were_given() -> None:
    # The suite flushes what it uses: a Redis URL written into a test would flush a
    # database of a shared Redis nobody handed it (TEST_REDIS_URL is the one).
    # The shared Redis is the one on loopback port 6379 (strings a parser is tested with,
    # and unreachable ports, name others).
    pattern = re.compile(r"redis://(?:[^\s\"'@/]*@)?(?:127\.0\.0\.1|localhost)(?::6379)?/\d+")
    allowed = {ROOT / "tests" / "support" / "processes.py"}
    for path in (ROOT / "tests").rglob("*.py"):
        if path in allowed:
            continue
        found = pattern.findall(path.read_text(encoding="utf-8"))
        assert not found, f"{path.relative_to(ROOT)}: {found}"
