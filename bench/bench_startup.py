"""lmms-eval start-up with the EIBench plugin installed vs without, side by side in one run.

Start-up = a fresh interpreter importing lmms-eval's CLI module (torch, the model registry, which loads the
`lmms_eval.models` entry points) and building the task index (`TaskManager()`), i.e. what every `lmms-eval` run
does before it loads a model. Three variants, interleaved run by run so machine load hits them alike:

- absent:   lmms-eval never sees our entry point (a metadata-only dist-info shadows ours), as if not installed;
- disabled: the entry point loads but EIBENCH_NO_DISCOVERY=1 turns the hook off;
- active:   the plugin as installed (our 13 task YAMLs join the index).

    python bench/bench_startup.py [--runs 5]

Prints median wall times and the active/absent ratio; exits 1 above 1.10 (the issue's bar: within 10%).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BAR = 1.10

PROBE = """
import lmms_eval.__main__  # noqa: F401  the CLI module: torch, evaluator, model registry (entry points)
from lmms_eval.tasks import TaskManager
index = TaskManager().task_index
print(sum(name.startswith("eibench") for name in index), len(index))
"""


def hidden_plugin_dir() -> Path:
    """A folder whose `lmms_eval_eibench-<version>.dist-info` (metadata only, no entry points) shadows the installed
    one when put first on PYTHONPATH: importlib.metadata keeps the first distribution of a name, so lmms-eval sees
    no EIBench entry point, as if the plugin were not installed."""
    dist = importlib.metadata.distribution("lmms-eval-eibench")
    folder = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    info = folder / f"lmms_eval_eibench-{dist.version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(dist.read_text("METADATA") or "", encoding="utf-8")
    return folder


def run_once(extra_env: dict[str, str]) -> tuple[float, str]:
    env = {**os.environ, **extra_env}
    started = time.perf_counter()
    # a neutral cwd: `python -c` puts the cwd first on sys.path, and a checkout's *.egg-info would be found there
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=tempfile.gettempdir(), capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"start-up probe failed:\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    hidden = hidden_plugin_dir()
    variants = {
        "absent": {"PYTHONPATH": os.pathsep.join(filter(None, [str(hidden), os.environ.get("PYTHONPATH")]))},
        "disabled": {"EIBENCH_NO_DISCOVERY": "1"},
        "active": {},
    }
    run_once({})  # warm the OS file cache so the first variant does not pay for it
    times: dict[str, list[float]] = {name: [] for name in variants}
    counts: dict[str, str] = {}
    for _ in range(args.runs):
        for name, env in variants.items():
            elapsed, counted = run_once(env)
            times[name].append(elapsed)
            counts[name] = counted
    for name in variants:
        eibench_tasks, all_tasks = counts[name].split()
        print(f"{name:9s} median {statistics.median(times[name]):6.2f} s  "
              f"(runs: {', '.join(f'{t:.2f}' for t in times[name])}; {eibench_tasks} eibench entries of {all_tasks})")
    if counts["active"].split()[0] == "0" or counts["absent"].split()[0] != "0":
        print("FAIL: the variants did not differ in the EIBench tasks they indexed")
        return 1
    ratio = statistics.median(times["active"]) / statistics.median(times["absent"])
    print(f"active / absent = {ratio:.3f} (bar {BAR:.2f})")
    print("PASS" if ratio <= BAR else "FAIL")
    return 0 if ratio <= BAR else 1


if __name__ == "__main__":
    sys.exit(main())
