"""Zero-flag discovery: makes lmms-eval find ``tasks/eibench`` without ``--include_path``.

lmms-eval 0.7.3 indexes tasks only from its own folder and ``--include_path`` (its ``LMMS_EVAL_PLUGINS`` variable
is read after the task index is built), and it has no task entry point. It does load the ``lmms_eval.models``
entry points when ``lmms_eval.models`` is imported, which its CLI and ``simple_evaluate`` do before building the
task index. Our entry point, ``register``, contributes no model (it returns ``[]``) and wraps
``TaskManager.initialize_tasks`` so that every index that includes lmms-eval's own tasks also includes ours.

This relies on an internal method, hence the pin ``lmms-eval>=0.7.3,<0.8``; the wrapping itself lives in
``lmms_compat.hook_task_index``, and ``tests/test_lmms_compat.py`` and ``tests/test_lmms_discovery.py`` fail loudly
when a future lmms-eval breaks it. ``--include_path`` keeps working beside it (a
checkout's ``tasks/`` indexes the same YAMLs; lmms-eval's own tasks win name clashes, so ours are all
``eibench_*``). ``EIBENCH_NO_DISCOVERY=1`` turns the hook off.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lmms_eval_eibench.edge import lmms_compat
from lmms_eval_eibench.harness import llava_original


def tasks_dir() -> Path:
    """The folder holding the EIBench task YAMLs: inside the installed wheel, else ``tasks/eibench`` of the
    source checkout (editable installs)."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "tasks" / "eibench"
    return packaged if packaged.is_dir() else package.parent / "tasks" / "eibench"


def _with_our_tasks(include_path: str | list | None) -> list[str]:
    paths = [] if include_path is None else ([include_path] if isinstance(include_path, (str, os.PathLike))
                                             else list(include_path))
    ours = tasks_dir()
    if not any(Path(str(p)).expanduser().resolve() == ours for p in paths):
        paths.append(str(ours))
    return [str(p) for p in paths]


def _add_our_tasks(include_path: str | list | None) -> str | list | None:
    return _with_our_tasks(include_path) if tasks_dir().is_dir() else include_path


def install() -> bool:
    """Make every lmms-eval task index that includes its own tasks include ours too (once); True when the hook
    is active. The model name is known when the index is built, before lmms-eval loads the model: say then why
    `--model llava` will stop (lmms-eval hides it), while the user can still act on it."""
    lmms_compat.hook_task_index(_add_our_tasks, llava_original.report)
    return True


def register() -> list:
    """The ``lmms_eval.models`` entry point: no models, and our tasks join lmms-eval's task index.

    Never raises: lmms-eval loads all model entry points in one ``try``, so an error here would also drop other
    plugins' models. A failure is reported on stderr instead.
    """
    from lmms_eval_eibench.config import env_flag

    try:
        if env_flag("EIBENCH_NO_DISCOVERY"):
            return []
    except ValueError as err:  # a typo must not silently disable the tasks, nor raise into lmms-eval
        print(f"lmms-eval-eibench: {err}; registering the EIBench tasks anyway", file=sys.stderr)
    try:
        install()
    except Exception as err:  # pragma: no cover - exercised only by an incompatible lmms-eval
        print(f"lmms-eval-eibench: could not register the EIBench tasks with lmms-eval ({type(err).__name__}: "
              f"{err}); pass --include_path {tasks_dir()} instead", file=sys.stderr)
    return []
