"""The package's folders are its stages, and imports run only downward (issue 35): a module imports modules of its
own stage or of a stage below it, never above, and no two modules import each other, even for type checking."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lmms_eval_eibench"

# Bottom to top. A name is a top-level module or a folder (a dotted name would place one module apart from its
# folder). lmms-eval's edge (its calls, its files) sits at the bottom: it imports nothing of ours, and every stage
# that meets lmms-eval goes through it.
STAGES: list[tuple[str, set[str]]] = [
    ("core", {"", "vocabulary", "config", "files", "urls", "prompts", "metrics", "edge"}),
    ("data", {"data"}),
    ("scoring", {"scoring"}),
    ("judges", {"judges"}),
    ("pipeline", {"provenance", "pipeline", "answers", "runs"}),
    ("harness, cfsa, report", {"harness", "cfsa", "report"}),
    ("commands", {"commands", "cli", "__main__", "lm_eval_tasks"}),
]
MAX_TOP_LEVEL = 12  # modules at the package's top (with __init__ and __main__): the rest live in stage folders


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def stage(module: str) -> int:
    """The stage of a module: the one naming it, else its longest enclosing folder."""
    candidates = [(len(name), i) for i, (_, names) in enumerate(STAGES) for name in names
                  if module == name or (name and module.startswith(name + ".")) or (name == "" and module == "")]
    if not candidates:
        raise AssertionError(f"lmms_eval_eibench.{module} is in no stage: add it to STAGES in {__file__}")
    return max(candidates)[1]


def imports(module: str) -> set[str]:
    """Modules of ours that ``module`` imports (anywhere in it: top, functions, TYPE_CHECKING blocks)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if package else []
                origin = ".".join(base + ([node.module] if node.module else []))
                origin = "lmms_eval_eibench" + ("." + origin if origin else "")
            else:
                origin = node.module or ""
            targets = [f"{origin}.{a.name}" for a in node.names] + [origin]
        else:
            continue
        for target in targets:
            if target == "lmms_eval_eibench" or target.startswith("lmms_eval_eibench."):
                name = target.removeprefix("lmms_eval_eibench").removeprefix(".")
                if name in MODULES:
                    found.add(name)
    # `from pkg import mod` names both pkg and pkg.mod: keep the module, and the package only for its own names
    return {name for name in found if name != module}


GRAPH = {module: imports(module) for module in MODULES}


def test_every_module_has_a_stage_and_few_stay_at_the_top():
    for module in MODULES:
        stage(module)
    top = sorted(m for m in MODULES if "." not in m and not (PACKAGE / m).is_dir())
    assert len(top) <= MAX_TOP_LEVEL, f"{len(top)} modules at the top of the package: {top}"


def upward_imports(module: str, targets: set[str]) -> list[str]:
    """The imports of ``module`` that climb to a stage above its own (its enclosing packages aside)."""
    return sorted(f"lmms_eval_eibench.{t} ({STAGES[stage(t)][0]})" for t in targets
                  if stage(t) > stage(module) and not module.startswith(t + ".") and t != "")


def import_cycles(graph: dict[str, set[str]]) -> list[str]:
    """Every cycle a depth-first walk of ``graph`` meets (an edge to an enclosing package is not one: a package's
    ``__init__`` runs before its modules anyway)."""
    cycles: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if node.startswith(nxt + ".") or nxt == "":
                continue
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]) if nxt in path else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_downward(module):
    upward = upward_imports(module, GRAPH[module])
    assert upward == [], (f"lmms_eval_eibench.{module} ({STAGES[stage(module)][0]}) imports from a stage above it: "
                          + ", ".join(upward))


def test_no_two_modules_import_each_other():
    cycles = import_cycles(GRAPH)
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def test_the_checks_see_an_upward_import_and_a_cycle():
    # the rules are live: data importing the judges, or two CFSA modules importing each other, would be flagged
    assert upward_imports("data.records", {"judges.base", "vocabulary"}) == ["lmms_eval_eibench.judges.base (judges)"]
    assert upward_imports("judges.base", {"data.records", "judges"}) == []  # downward, and its own package
    assert stage("edge.lmms_compat") == 0 < stage("harness.lifecycle")
    graph = {"cfsa.plan": {"cfsa.settings"}, "cfsa.settings": {"cfsa.plan", "cfsa"}, "cfsa": set()}
    assert import_cycles(graph) == ["cfsa.plan -> cfsa.settings -> cfsa.plan"]


def test_every_command_names_a_module_of_the_package():
    # `eibench` imports its subcommands by name (cli.COMMANDS), which no import statement shows: a moved module
    # must be renamed there too
    from lmms_eval_eibench.cli import COMMANDS

    missing = sorted(module for module, _ in COMMANDS.values() if module not in MODULES)
    assert missing == [], f"cli.COMMANDS names modules that do not exist: {missing}"
