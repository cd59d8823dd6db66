"""Every use of lmms-eval beyond its public task API, in one place (checked against lmms-eval 0.7.3).

The plugin extends lmms-eval through its public extension points (a YAML ``class:`` task, a ``lmms_eval.models``
entry point, ``process_results`` and the aggregations). Where that is not enough, this module is the only one that
reaches further; each contact below relies on an lmms-eval internal, and ``tests/test_lmms_compat.py`` has one
test per contact, named after it, that fails on an lmms-eval release that breaks it. Upgrading lmms-eval means
running that file and reading this one:

1. ``hook_task_index``: lmms-eval has no task entry point, so ``discovery`` wraps ``TaskManager.initialize_tasks``
   (and reads the ``model_name`` the ``TaskManager`` was built with).
2. ``own_process_results``: a task config naming a ``process_results`` makes ``ConfigurableTask.__init__`` skip its
   metric registry (our metrics are not registered metrics).
3. ``reasoning_tags`` / ``strip_reasoning``: the tags lmms-eval's evaluator strips from a response before
   ``process_results`` (task config, else ``--reasoning_tags``), so answers are judged as they will be scored.
4. ``model_is_chat`` / ``construct_requests``: a YAML ``class:`` task is built without knowing the model's style;
   its requests take the style of the model (``get_model(...).is_simple``), built by the unbound
   ``construct_requests`` of lmms-eval's simple or messages task.
5. CFSA's hooks: ``response_cache_requested`` (the task's CLI arguments, reached through a simple request's bound
   ``doc_to_visual``), ``user_turn`` (the private ``ConfigurableMessagesTask._build_user_turn``), ``share_task_dict``
   (the documents ``simple_evaluate`` puts in the model's ``task_dict``), ``logged_input`` / ``set_logged_input`` (the
   request argument ``--log_samples`` writes as a sample's ``input``), ``model_manifest``
   (``registry_v2.ModelManifest``).
6. ``percent_items``: lmms-eval computes a metric's ``_stderr_clt`` from the very list it handed to the metric's
   aggregation, after it (``TaskOutput.calculate_aggregate_metric``, then ``calculate_clt_aggregate_metric``),
   while ``--baseline`` reads the per-sample numbers from the logged samples, a copy made before.
7. ``output_path``: where lmms-eval will save the run (``--output_path``), read from the CLI arguments the evaluator
   sets on each task (``task.args``) before ``build_all_requests``; lmms-eval itself only tries to write there after
   the whole run, and logs a failure at INFO level.
8. Request layouts: ``generation_args`` reads a simple model's ``generate_until`` request (``(prompt, gen_kwargs,
   doc_to_visual, doc_id, task, split)``), ``generation_request`` builds one in either model's layout (a chat
   model's has ``doc_to_messages`` second), for CFSA's calls to its base model; ``document_responses`` reads what
   a task's requests hold after ``apply_filters`` (``doc_id``, ``filtered_resps``) for the judging step.

lmms-eval's public model API (``lmms``, ``Instance``, ``GenerationResult``, ``TokenCounts``,
``unwrap_generation_output``, ``get_model``) is re-exported here for ``cfsa.model``, so that outside this module only
the task classes (``lmms_task``) import lmms-eval. Importing this module imports nothing of lmms-eval (nor torch):
each contact imports what it needs when it is used, and the re-exports load on first access.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers only; at run time the names load on first access (``__getattr__``)
    from lmms_eval.api.instance import (
        GenerationResult,
        Instance,
        TokenCounts,
        unwrap_generation_output,
    )
    from lmms_eval.api.model import lmms
    from lmms_eval.models import get_model

__all__ = [
    "GenerationResult",
    "Instance",
    "TokenCounts",
    "construct_requests",
    "get_model",
    "hook_task_index",
    "lmms",
    "logged_input",
    "model_is_chat",
    "model_manifest",
    "output_path",
    "own_process_results",
    "percent_items",
    "reasoning_tags",
    "response_cache_requested",
    "set_logged_input",
    "share_task_dict",
    "strip_reasoning",
    "unwrap_generation_output",
    "user_turn",
]

# lmms-eval's public model API, re-exported lazily: name -> module that defines it.
_PUBLIC = {
    "lmms": "lmms_eval.api.model",
    "Instance": "lmms_eval.api.instance",
    "GenerationResult": "lmms_eval.api.instance",
    "TokenCounts": "lmms_eval.api.instance",
    "unwrap_generation_output": "lmms_eval.api.instance",
    "get_model": "lmms_eval.models",
}


def __getattr__(name: str) -> Any:  # PEP 562: `from lmms_eval_eibench.edge.lmms_compat import lmms` imports lmms-eval
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- 1. the task index ------------------------------------------------------------------------------------------

_HOOK_MARK = "_eibench_tasks_hook"


def hook_task_index(add_paths: Callable[[Any], Any], on_index: Callable[[str | None], None]) -> None:
    """Wrap ``lmms_eval.tasks.TaskManager.initialize_tasks`` (once per process).

    Every index that includes lmms-eval's own tasks (every CLI run) gets ``include_path = add_paths(include_path)``;
    an index built with ``include_defaults=False`` asked for exactly its ``include_path`` and is left alone.
    ``on_index(model_name)`` runs first: the model is named there, before lmms-eval loads it.
    """
    from lmms_eval.tasks import TaskManager

    original = TaskManager.initialize_tasks
    if getattr(original, _HOOK_MARK, False):
        return

    def initialize_tasks(self: Any, include_path: Any = None, include_defaults: bool = True) -> Any:
        if include_defaults:
            include_path = add_paths(include_path)
        on_index(getattr(self, "model_name", None))
        return original(self, include_path=include_path, include_defaults=include_defaults)

    initialize_tasks.__wrapped__ = original  # type: ignore[attr-defined]
    initialize_tasks.__doc__ = original.__doc__
    setattr(initialize_tasks, _HOOK_MARK, True)
    TaskManager.initialize_tasks = initialize_tasks  # type: ignore[method-assign]


# -- 2. the metric registry -------------------------------------------------------------------------------------


def _process_results_placeholder(doc: Any, results: Any) -> dict[str, Any]:
    raise RuntimeError("EIBench metrics come from EIBenchLifecycle.process_results")


def own_process_results(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` naming a ``process_results`` (a placeholder, unless it names one), so that the harness's
    ``ConfigurableTask.__init__`` does not look the YAML's metrics up in its metric registry; the task class's
    own ``process_results`` method computes them. lm-eval's ``ConfigurableTask`` reads the key the same way."""
    config.setdefault("process_results", _process_results_placeholder)
    return config


# -- 3. reasoning tags ------------------------------------------------------------------------------------------


def reasoning_tags(task: Any) -> Any:
    """The reasoning tags lmms-eval's evaluator strips before ``process_results`` (the task config's, else the
    CLI's ``--reasoning_tags``, found on ``task.args``), or None: also when lmms-eval is absent (lm-eval strips
    nothing)."""
    try:
        from lmms_eval.api.reasoning import parse_reasoning_tags_config
    except ImportError:
        return None
    cli_value = getattr(getattr(task, "args", None), "reasoning_tags", None)
    return parse_reasoning_tags_config(cli_value=cli_value, task_value=getattr(task.config, "reasoning_tags", None))


def strip_reasoning(response: Any, tags: Any) -> Any:
    """``response`` as ``process_results`` will get it: what lmms-eval's evaluator does to a filtered response
    (a string, or each string of a list) when ``tags`` is not None."""
    if tags is None:
        return response
    from lmms_eval.api.reasoning import strip_reasoning_tags

    if isinstance(response, str):
        return strip_reasoning_tags(response, tags)
    if isinstance(response, list):
        return [strip_reasoning_tags(r, tags) if isinstance(r, str) else r for r in response]
    return response


# -- 4. requests in the model's style ---------------------------------------------------------------------------


def model_is_chat(cli_args: Any) -> bool:
    """Whether the run's model takes chat messages rather than text + visuals (simple), as lmms-eval decides it:
    ``get_model(--model, force_simple=--force_simple).is_simple``. ``cli_args`` is the task's ``args`` (set by
    ``evaluate()`` before requests are built); without them (``simple_evaluate`` called without ``cli_args``)
    lmms-eval's default style, simple."""
    model = getattr(cli_args, "model", None)
    if not (isinstance(model, str) and model):
        return False
    from lmms_eval.models import get_model

    model_class = get_model(model, force_simple=bool(getattr(cli_args, "force_simple", False)))
    return not getattr(model_class, "is_simple", True)


def construct_requests(task: Any, chat: bool, doc_id: int, ctx: str, **kwargs: Any) -> Any:
    """``task``'s requests for one document in a chat model's style (``ConfigurableMessagesTask``) or a simple
    one's (``ConfigurableTask``), whichever class ``task`` was built from."""
    from lmms_eval.api.task import ConfigurableMessagesTask, ConfigurableTask

    style = ConfigurableMessagesTask if chat else ConfigurableTask
    return style.construct_requests(task, doc_id, ctx, **kwargs)


# -- 5. CFSA's hooks --------------------------------------------------------------------------------------------


def response_cache_requested(requests: Sequence[Any]) -> bool:
    """Whether lmms-eval was asked for its response cache (``--use_cache``) for any of these requests' tasks.

    lmms-eval 0.7.3 tells a model nothing about the cache (``ResponseCache.execute`` just calls the model's
    ``generate_until`` with the requests it has no answer for). What it does hand out: ``evaluate()`` sets each
    task's ``args`` to the command line's arguments, and a simple task's request carries the task's own bound
    ``doc_to_visual`` (its ``__self__`` is the task). In the Python API (``simple_evaluate(use_cache=...)``)
    ``args`` is None and this says False (see docs/cfsa.md).
    """
    for request in requests:
        task = getattr(request.args[2], "__self__", None) if len(request.args) > 2 else None
        if getattr(getattr(task, "args", None), "use_cache", None):
            return True
    return False


def user_turn(visuals: Sequence[Any], text: str) -> list[dict[str, Any]]:
    """One user turn of ``visuals`` then ``text``, as lmms-eval's messages tasks build it for chat models."""
    from lmms_eval.api.task import ConfigurableMessagesTask

    return ConfigurableMessagesTask._build_user_turn(list(visuals or []), text)


def share_task_dict(model: Any, base: Any) -> None:
    """Let ``base`` read the documents lmms-eval gives ``model``: ``simple_evaluate()`` fills ``model.task_dict`` in place
    (task -> split -> documents) and chat models look each request's document up there."""
    base.task_dict = model.task_dict


def logged_input(instance: Any) -> Any:
    """What ``--log_samples`` writes as a request's sample ``input``: its first argument (the task prompt)."""
    return instance.arguments[0]


def set_logged_input(instance: Any, value: Any) -> None:
    """Make ``value`` the request's sample ``input`` (its first argument). Only after generation, when lmms-eval
    no longer reads the prompt; the evaluation tracker logs it when it is a plain value (dict, str, list...)."""
    instance.arguments = (value, *instance.arguments[1:])


def model_manifest(model_id: str, simple_class_path: str) -> Any:
    """What a ``lmms_eval.models`` entry point returns to register a simple model lmms-eval imports lazily."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return ModelManifest(model_id=model_id, simple_class_path=simple_class_path)


# -- 6. the stderr of a row on another scale than its per-sample items ----------------------------------------


class _Percent(float):
    """A per-sample 0-1 score already put on 0-100 (so a second aggregation of the same list leaves it)."""


def percent_items(items: Any) -> list[float]:
    """The 0-1 per-sample ``items`` of a metric whose row is 0-100, times 100; when ``items`` is a list (the one
    lmms-eval then computes the row's ``_stderr_clt`` from), rewritten in place, so that stderr is on the row's
    scale too. The logged samples, which ``--baseline`` pairs on 0-1, are not touched. Under lm-eval (no CLT
    stderr) the rewrite changes nothing it reports."""
    scaled = [value if isinstance(value, _Percent) or value is None else _Percent(100.0 * value) for value in items]
    if isinstance(items, list):
        items[:] = scaled
    return scaled


# -- 7. where lmms-eval saves the run ---------------------------------------------------------------------------


def output_path(task: Any) -> str | None:
    """lmms-eval's ``--output_path`` of the run ``task`` is part of (None: none given, or not run by lmms-eval's
    evaluator, e.g. under lm-eval or a ``simple_evaluate`` call without CLI arguments).

    Read from ``task.args``, the namespace ``evaluate()`` sets on every task before ``build_all_requests``: it is
    the one ``cli_evaluate`` built, from the command line or a ``--config`` file, and whose ``output_path`` it
    hands to its ``EvaluationTracker``. ``sys.argv`` would miss ``--config`` and programmatic runs, and the tracker
    is not reachable from a task."""
    value = getattr(getattr(task, "args", None), "output_path", None)
    return str(value) if value else None


# -- 8. request layouts -----------------------------------------------------------------------------------------

GENERATION_ARGS = ("prompt", "gen_kwargs", "doc_to_visual", "doc_id", "task", "split")
"""A simple model's ``generate_until`` request arguments, in lmms-eval's order."""


def generation_args(request: Any) -> tuple | None:
    """``request``'s arguments in the simple layout (``GENERATION_ARGS``); None when it has another layout."""
    args = tuple(request.args)
    if len(args) != len(GENERATION_ARGS) or not (args[2] is None or callable(args[2])):
        return None
    return args


def generation_request(chat: bool, prompt: str, gen_kwargs: dict, doc_to_visual: Callable | None, doc_id: int,
                       task: str, split: str, idx: int, doc_to_messages: Callable | None = None) -> Any:
    """A ``generate_until`` request for a simple model (``chat`` False) or a chat one (``doc_to_messages`` in
    second place, as lmms-eval's messages tasks build it)."""
    from lmms_eval.api.instance import Instance

    arguments = ((prompt, doc_to_messages, gen_kwargs, doc_id, task, split) if chat
                 else (prompt, gen_kwargs, doc_to_visual, doc_id, task, split))
    return Instance(request_type="generate_until", arguments=arguments, idx=idx,
                    metadata={"task": task, "doc_id": doc_id, "repeats": 1})


def document_responses(instances: Sequence[Any]) -> list[tuple[int, list[Any]]]:
    """Each request's document index and its responses after ``apply_filters`` (one per filter)."""
    return [(instance.doc_id, list(instance.filtered_resps.values())) for instance in instances]
