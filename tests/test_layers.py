"""The import graph of planner/: no circle, no import hidden inside a function.

A circle is what function-level imports were once used to dodge; with none,
the layers read one way (docs/development.md draws them).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from planner.model.parameters import Policy
from planner.schema import catalogue

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "planner"

#: Function-level imports that stay: optional dependencies, loaded only when used.
OPTIONAL = {"distributed", "matplotlib", "playwright", "mpisppy", "mpi4py"}
#: Modules that may import inside a function for start-up speed (issue 23.8): the CLI's
#: commands load what each needs, so `planner --help` never waits for Pyomo or FastAPI.
#: Their imports still count in the graph below (no circle through them either).
LAZY = {"planner.cli"}
#: What `import planner.cli` must not load: the solver, the model, the server, the tables.
HEAVY = ("pyomo", "highspy", "fastapi", "uvicorn", "pandas", "scipy", "numpy", "matplotlib")


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom, known: set[str]) -> list[str]:
    """The planner modules an import statement loads (``from a import b``: a.b if a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "planner"]
    base = node.module or ""
    if node.level or base.split(".")[0] != "planner":
        return []
    names = [f"{base}.{alias.name}" for alias in node.names]
    return [name for name in names if name in known] or [base]


def graph() -> tuple[dict[str, set[str]], list[str]]:
    """Return module -> planner modules it imports, and the function-level imports found."""
    files = {_module(path): path for path in PACKAGE.rglob("*.py")}
    known = set(files)
    edges: dict[str, set[str]] = {name: set() for name in files}
    hidden = []
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        inside = {
            id(inner)
            for function in functions
            for inner in ast.walk(function)
            if inner is not function
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            targets = _imported(node, known)
            edges[name] |= {target for target in targets if target != name}
            if id(node) in inside:
                roots = (
                    [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                if name not in LAZY and any(root.split(".")[0] not in OPTIONAL for root in roots):
                    hidden.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return edges, hidden


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """Return one circle of the graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_import_graph_has_no_circle() -> None:
    edges, _ = graph()
    # a package imports its own submodules; the package itself is not a layer
    for name in list(edges):
        edges[name] = {t for t in edges[name] if not (t == "planner" and name != "planner")}
    edges["planner"] = set()  # the public facade sits on top: nothing below imports it
    assert _cycle(edges) is None, " -> ".join(_cycle(edges) or [])


def test_nothing_below_the_facade_imports_the_package() -> None:
    """``import planner`` (the facade) only from the layers above the API: CLI, batch, web."""
    edges, _ = graph()
    users = {name for name, targets in edges.items() if "planner" in targets}
    assert users <= {"planner.cli", "planner.batch", "planner.web.worker"}, users


def test_no_import_inside_a_function_but_optional_ones() -> None:
    """Only optional dependencies (Dask, matplotlib for the sweep's PNG) load when used."""
    _, hidden = graph()
    assert hidden == []


def test_the_cli_starts_without_the_heavy_libraries() -> None:
    """`planner --help`/`--version` load no solver, model, server or pandas (issue 23.8).

    What is imported, not how long it takes: timings are in benchmarks/startup.py.
    """
    code = (
        "import sys, planner, planner.cli\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_the_lazy_facade_gives_the_functions_not_their_modules() -> None:
    """`planner.roll` and `planner.sweep` stay the functions once their modules are imported."""
    code = (
        "import planner.roll, planner.sweep, planner.web.worker\n"
        "import planner\n"
        "print(all(callable(getattr(planner, n)) and not isinstance(getattr(planner, n), "
        "type(planner)) for n in planner.__all__ if n != '__version__'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"


def test_validate_loads_no_solver_or_model() -> None:
    """`planner validate` reads and checks: no Pyomo, HiGHS or web server."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from planner.cli import app\n"
        "done = CliRunner().invoke(app, ['validate', 'inputs/tiny.xlsx'])\n"
        "assert done.exit_code == 0, done.output\n"
        "print(','.join(m for m in ('pyomo', 'highspy', 'fastapi', 'uvicorn') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == ""


def test_the_cli_s_constants_are_the_api_s() -> None:
    import planner.cli as cli
    from planner.api import MAX_SEED
    from planner.solve import Status

    assert cli.MAX_SEED == MAX_SEED
    assert (cli.OPTIMAL, cli.TIME_LIMIT, cli.INFEASIBLE, cli.INTERRUPTED) == (
        Status.OPTIMAL,
        Status.TIME_LIMIT,
        Status.INFEASIBLE,
        Status.INTERRUPTED,
    )


def test_the_check_sees_a_circle_and_a_hidden_import() -> None:
    """The checks above can fail: a circle and a function-level import are found."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    source = "def f():\n    from planner.api import load\n"
    tree = ast.parse(source)
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    inner = function.body[0]
    assert isinstance(inner, ast.ImportFrom)
    assert _imported(inner, {"planner.api"}) == ["planner.api"]


def test_the_policy_enum_is_the_contract_s_list() -> None:
    """The policy names in code are those of the input contract (models/sourcing/columns.csv)."""
    column = catalogue().sheet("Policies").column("policy")
    assert tuple(column.values) == tuple(Policy)
