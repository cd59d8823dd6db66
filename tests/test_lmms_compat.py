"""One test per contact of `lmms_eval_eibench/edge/lmms_compat.py` with lmms-eval's internals, against the installed
lmms-eval (0.7.3): each says, by name, which contact a new release broke. Plus the bar of issue 27: at most two
package modules import lmms-eval.

The tasks here are built by lmms-eval's own `ConfigurableMessagesTask` from a config written in this file (a
one-document dataset made with `datasets`), so a failure points at lmms-eval, not at the EIBench YAMLs.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_eibench.edge import lmms_compat

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "lmms_eval_eibench"
TASK = "compat_probe"
MODULE_NAME = re.compile(r"lmms_eval(\.\w+)*")
BROKEN = "lmms-eval changed what lmms_compat.{} relies on: update lmms_eval_eibench/edge/lmms_compat.py"


def broken(contact: str) -> str:
    return BROKEN.format(contact)


def probe_config(**extra: Any) -> dict[str, Any]:
    """A generate_until task whose metric is not in lmms-eval's registry (as EIBench's are not)."""
    return {
        "task": TASK, "test_split": "test", "output_type": "generate_until",
        "doc_to_visual": lambda doc: [doc["image"]] if doc.get("image") is not None else [],
        "doc_to_text": lambda doc, lmms_eval_specific_kwargs=None: doc["question"],
        "doc_to_target": "answer",
        "metric_list": [{"metric": "eibench_probe_recall", "aggregation": lambda items: sum(items),
                         "higher_is_better": True}],
        **extra,
    }  # fmt: skip


def probe_task(config: dict[str, Any], image: Any = None) -> Any:
    """lmms-eval's messages task over a one-document dataset; `process_results` records what it was given."""
    import datasets
    from lmms_eval.api.task import ConfigurableMessagesTask

    class Probe(ConfigurableMessagesTask):
        seen: list  # what process_results was given, call by call

        def download(self, *args: Any, **kwargs: Any) -> None:
            rows = datasets.Dataset.from_list([{"question": "Why is she smiling?", "answer": "a gift"}])
            self.dataset = datasets.DatasetDict({"test": rows})
            self.dataset_no_image = self.dataset

        def process_results(self, doc: Any, results: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
            self.seen.append(results)
            return {"eibench_probe_recall": 1.0}

    task = Probe(config=config)
    task.seen = []
    return task


def request_metadata(doc_id: int = 0) -> dict[str, Any]:
    return {"task": TASK, "doc_id": doc_id, "repeats": 1, "split": "test"}


def cli_args(*argv: str) -> Any:
    """The run's arguments as lmms-eval's CLI parses them (evaluate() reads several, and sets them as task.args)."""
    from lmms_eval.__main__ import parse_eval_args

    saved = sys.argv
    try:
        sys.argv = ["lmms-eval", "--model", "dummy", "--tasks", TASK, *argv]
        return parse_eval_args()[1]
    finally:
        sys.argv = saved


def evaluate(task: Any, reply: Any, *argv: str, on_request: Any = None) -> dict[str, Any]:
    """lmms-eval's own `evaluator.evaluate` of `task` with a model that answers `reply` to every request (and
    first hands each request to `on_request`, as CFSA's model does); its results, samples included."""
    from lmms_eval import evaluator

    from lmms_eval_eibench.edge.lmms_compat import lmms

    class Replies(lmms):
        def generate_until(self, requests: list) -> list:
            for request in requests:
                if on_request is not None:
                    on_request(request)
            return [reply for _ in requests]

        loglikelihood = generate_until_multi_round = lambda self, requests: []

    return evaluator.evaluate(Replies(), {TASK: task}, cli_args=cli_args(*argv), log_samples=True,
                              verbosity="WARNING")


@pytest.fixture
def task() -> Any:
    return probe_task(lmms_compat.own_process_results(probe_config()))


# -- 1. the task index ------------------------------------------------------------------------------------------


def test_hook_task_index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """TaskManager calls `initialize_tasks(include_path=..., include_defaults=...)` from its constructor, with
    `model_name` already set; the wrapper extends include_path and lmms-eval indexes the YAMLs found there."""
    from lmms_eval.tasks import TaskManager

    from lmms_eval_eibench.harness.discovery import tasks_dir

    real = getattr(TaskManager.initialize_tasks, "__wrapped__", TaskManager.initialize_tasks)
    params = inspect.signature(real).parameters
    assert list(params)[:3] == ["self", "include_path", "include_defaults"], broken("hook_task_index")
    forwarded: list[tuple[Any, bool]] = []

    def without_defaults(self: Any, include_path: Any = None, include_defaults: bool = True) -> Any:
        # lmms-eval's own method, minus its 2,000 built-in tasks (seconds to index), which the hook never touches
        forwarded.append((include_path, include_defaults))
        return real(self, include_path=include_path, include_defaults=False)

    monkeypatch.setattr(TaskManager, "initialize_tasks", without_defaults)  # restored after the test
    added, models = [], []
    lmms_compat.hook_task_index(lambda path: (added.append(path), [str(tasks_dir())])[1], models.append)
    lmms_compat.hook_task_index(lambda path: pytest.fail("hooked twice"), models.append)  # once per process

    manager = TaskManager(include_path=str(tmp_path), include_defaults=True, model_name="probe_model")
    assert added == [str(tmp_path)] and models == ["probe_model"], broken("hook_task_index")
    assert forwarded == [([str(tasks_dir())], True)], broken("hook_task_index")
    assert "eibench_basic" in manager.all_tasks, broken("hook_task_index")

    TaskManager(include_path=str(tmp_path), include_defaults=False)
    assert added == [str(tmp_path)], "an index without lmms-eval's own tasks must be left alone"


# -- 2. the metric registry -------------------------------------------------------------------------------------


def test_own_process_results() -> None:
    """ConfigurableTask.__init__ looks every YAML metric up in its registry, unless a process_results is named."""
    with pytest.raises(KeyError, match="eibench_probe_recall"):
        probe_task(probe_config())  # what happens to an EIBench YAML without the placeholder
    config = lmms_compat.own_process_results(probe_config())
    task = probe_task(config)
    assert task._metric_fn_list == {"eibench_probe_recall": None}, broken("own_process_results")
    assert task.aggregation()["eibench_probe_recall"]([1, 2]) == 3  # the YAML's own aggregation is kept
    with pytest.raises(RuntimeError, match="EIBenchLifecycle.process_results"):
        config["process_results"]({}, [])  # a placeholder: the task class's method does the work
    assert lmms_compat.own_process_results({"process_results": len})["process_results"] is len


# -- 3. reasoning tags ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task_tags", [None, [["<reasoning>", "</reasoning>"]]])
@pytest.mark.parametrize("response", ["<think>a long look</think> <reasoning>hmm</reasoning>a gift",
                                      "<think>x</think>a gift"])
def test_reasoning_tags_and_strip_reasoning(task_tags: Any, response: Any) -> None:
    """The answer lmms-eval's `evaluate()` hands process_results is the one `strip_reasoning(reasoning_tags)` predicts
    (the task config's tags win over --reasoning_tags, which reaches the task as `task.args`): a run of the real
    evaluator, not its private per-document step, which the plugin never calls."""
    from lmms_eval.api.reasoning import parse_reasoning_tags_config

    task = probe_task(lmms_compat.own_process_results(probe_config(reasoning_tags=task_tags)))
    evaluate(task, response, "--reasoning_tags", '[["<think>", "</think>"]]')  # the real runner, end to end
    tags = lmms_compat.reasoning_tags(task)  # from task.args, which evaluate() set
    assert tags == parse_reasoning_tags_config(cli_value=task.args.reasoning_tags, task_value=task_tags), (
        broken("reasoning_tags"))
    assert task.seen == [[lmms_compat.strip_reasoning(response, tags)]], broken("strip_reasoning")
    assert lmms_compat.strip_reasoning(response, None) is response
    # a response list (repeats) is stripped string by string, as the evaluator does
    assert lmms_compat.strip_reasoning([response, 3], tags) == [task.seen[0][0], 3], broken("strip_reasoning")


# -- 4. requests in the model's style ---------------------------------------------------------------------------


def test_model_is_chat() -> None:
    """`--model` / `--force_simple` (the CLI names, read from task.args) pick the model class, as lmms-eval does."""
    from lmms_eval.__main__ import parse_eval_args

    argv = sys.argv
    try:
        sys.argv = ["lmms-eval", "--model", "openai", "--tasks", TASK]
        _, cli_args = parse_eval_args()
    finally:
        sys.argv = argv
    for name in ("model", "force_simple", "use_cache", "reasoning_tags"):  # every CLI argument we read
        assert hasattr(cli_args, name), broken("model_is_chat") + f" (no --{name})"
    assert lmms_compat.model_is_chat(cli_args) is True, broken("model_is_chat")  # openai has a chat class
    cli_args.force_simple = True
    assert lmms_compat.model_is_chat(cli_args) is False, broken("model_is_chat")
    assert lmms_compat.model_is_chat(None) is False  # simple_evaluate without cli_args: lmms-eval's default


def test_construct_requests(task: Any) -> None:
    """The unbound construct_requests of the simple and the messages task, on a task that is both."""
    simple = lmms_compat.construct_requests(task, False, 0, "ctx", metadata=request_metadata())
    chat = lmms_compat.construct_requests(task, True, 0, "ctx", metadata=request_metadata())
    # simple: (ctx, gen_kwargs, doc_to_visual, doc_id, task, split); chat: (ctx, doc_to_messages, gen_kwargs, ...)
    assert simple.args[0] == "ctx" and isinstance(simple.args[1], dict), broken("construct_requests")
    assert simple.args[2] == task.doc_to_visual and simple.args[3:] == (0, TASK, "test"), broken("construct_requests")
    assert chat.args[1] == task.doc_to_messages and chat.args[3:] == (0, TASK, "test"), broken("construct_requests")


# -- 5. CFSA's hooks --------------------------------------------------------------------------------------------


def test_response_cache_requested(task: Any) -> None:
    """A simple request carries the task's bound doc_to_visual; the task's `args` are the CLI's (--use_cache)."""
    request = lmms_compat.construct_requests(task, False, 0, "ctx", metadata=request_metadata())
    assert request.args[2].__self__ is task, broken("response_cache_requested")
    assert lmms_compat.response_cache_requested([request]) is False  # Python API: no task.args
    task.args = argparse.Namespace(use_cache=None)
    assert lmms_compat.response_cache_requested([request]) is False
    task.args = argparse.Namespace(use_cache="/tmp/lmms-cache")
    assert lmms_compat.response_cache_requested([request]) is True, broken("response_cache_requested")


def test_user_turn(task: Any) -> None:
    """The private `ConfigurableMessagesTask._build_user_turn` builds exactly what a messages task sends a chat
    model for a document (its visuals, then its text)."""
    from PIL import Image

    image = Image.new("RGB", (4, 4))
    doc = {"question": "Why is she smiling?", "answer": "a gift", "image": image}
    assert lmms_compat.user_turn([image], doc["question"]) == task.doc_to_messages(doc), broken("user_turn")
    assert lmms_compat.user_turn([], "text only") == [
        {"role": "user", "content": [{"type": "text", "text": "text only"}]}], broken("user_turn")


def test_share_task_dict() -> None:
    """A model's task_dict starts as a dict on `lmms`; simple_evaluate() fills it in place (task -> dataset)."""
    from lmms_eval import evaluator

    from lmms_eval_eibench.edge.lmms_compat import lmms

    class Model(lmms):  # the abstract methods do not matter here
        generate_until = loglikelihood = generate_until_multi_round = lambda self, requests: []

    wrapper, base = Model(), Model()
    lmms_compat.share_task_dict(wrapper, base)
    wrapper.task_dict[TASK] = {"test": ["doc"]}  # as simple_evaluate() does, after the model is built
    assert base.task_dict[TASK]["test"][0] == "doc", broken("share_task_dict")
    assert "lm.task_dict[task_name] = task_obj.dataset" in inspect.getsource(evaluator.simple_evaluate), (
        broken("share_task_dict"))


def test_logged_input_and_set_logged_input(task: Any, tmp_path: Path) -> None:
    """What a request's first argument becomes in the --log_samples line: its `input`, written as given."""
    from lmms_eval.loggers.evaluation_tracker import EvaluationTracker

    request = lmms_compat.construct_requests(task, False, 0, "the task prompt", metadata=request_metadata())
    assert lmms_compat.logged_input(request) == "the task prompt", broken("logged_input")
    record = {"prompt": "the task prompt", "cfsa": [{"status": "ok"}]}
    lmms_compat.set_logged_input(request, record)
    assert request.args[1:] == lmms_compat.construct_requests(task, False, 0, "ctx", metadata=request_metadata()).args[1:]
    # in a run, the model sets the logged input of the requests lmms-eval hands it (as CFSA's model does)
    seen: list[Any] = []

    def set_input(request: Any) -> None:
        seen.append(lmms_compat.logged_input(request))
        lmms_compat.set_logged_input(request, {**record, "prompt": seen[-1]})

    (sample,) = evaluate(task, "a gift", on_request=set_input)["samples"][TASK]
    assert seen == ["Why is she smiling?"], broken("logged_input")
    tracker = EvaluationTracker(output_path=str(tmp_path))
    tracker.general_config_tracker.model_name_sanitized = "probe_model"
    tracker.date_id = "probe"  # set by save_results_aggregated, which lmms-eval calls first
    tracker.save_results_samples(TASK, [sample])
    (written,) = (tmp_path / "probe_model").glob(f"*_samples_{TASK}.jsonl")
    line = json.loads(written.read_text().splitlines()[0])
    assert line["input"] == {**record, "prompt": "Why is she smiling?"}, broken("set_logged_input")


def test_model_manifest() -> None:
    """The payload our `lmms_eval.models` entry point returns registers a lazily imported simple model."""
    from lmms_eval.models import get_model_manifest

    manifest = lmms_compat.model_manifest("eibench_probe", "lmms_eval_eibench.cfsa.model.CFSA")
    assert (manifest.model_id, manifest.simple_class_path, manifest.chat_class_path) == (
        "eibench_probe", "lmms_eval_eibench.cfsa.model.CFSA", None), broken("model_manifest")
    assert get_model_manifest("eibench_cfsa").simple_class_path == "lmms_eval_eibench.cfsa.model.CFSA", (
        broken("model_manifest") + " (the eibench_cfsa entry point is not registered)")


# -- 6. the stderr of a row on another scale than its per-sample items ----------------------------------------


def test_percent_items() -> None:
    """lmms-eval computes a row's _stderr_clt from the list its aggregation was handed, after the aggregation:
    eibench_paired_score's 0-1 items then give a 0-100 row and a 0-100 stderr; a second pass changes nothing."""
    import numpy as np
    from lmms_eval.evaluator_utils import TaskOutput

    from lmms_eval_eibench.pipeline import paired_score_mean

    config = probe_config()
    config["metric_list"] = [{"metric": "eibench_paired_score", "aggregation": paired_score_mean,
                              "higher_is_better": True}]
    task = probe_task(lmms_compat.own_process_results(config))
    output = TaskOutput(task=task, task_name=TASK, task_config={})
    items = [0.0, 0.25, 1.0, 0.5]
    logged = list(items)  # what --log_samples keeps: a copy of each number, untouched
    output.sample_metrics[("eibench_paired_score", "none")] = items
    output.calculate_aggregate_metric(bootstrap_iters=0)
    output.calculate_clt_aggregate_metric()
    assert output.agg_metrics["eibench_paired_score,none"] == pytest.approx(43.75)
    expected = np.std([100 * v for v in logged], ddof=1) / np.sqrt(4)
    assert output.agg_metrics["eibench_paired_score_stderr_clt,none"] == pytest.approx(expected), (
        broken("percent_items"))
    assert paired_score_mean(items) == pytest.approx(43.75) and logged == [0.0, 0.25, 1.0, 0.5]


# -- 7. where lmms-eval saves the run ---------------------------------------------------------------------------


def test_output_path(task: Any) -> None:
    """`--output_path` is on the CLI arguments evaluate() sets as `task.args` before `build_all_requests` (where
    the plugin checks it), and is the path the EvaluationTracker saves under."""
    from lmms_eval import evaluator
    from lmms_eval.__main__ import parse_eval_args
    from lmms_eval.loggers.evaluation_tracker import EvaluationTracker

    argv = sys.argv
    try:
        sys.argv = ["lmms-eval", "--model", "dummy", "--tasks", TASK, "--output_path", "/tmp/eibench-out"]
        _, cli_args = parse_eval_args()
    finally:
        sys.argv = argv
    assert lmms_compat.output_path(task) is None  # no CLI arguments (the Python API, lm-eval)
    task.args = cli_args
    assert lmms_compat.output_path(task) == "/tmp/eibench-out", broken("output_path")
    source = inspect.getsource(evaluator.evaluate)
    assert -1 < source.find("task.args = cli_args") < source.find("task.build_all_requests("), broken("output_path")
    assert EvaluationTracker(output_path=cli_args.output_path).output_path == "/tmp/eibench-out", broken("output_path")


# -- the bar: lmms-eval at one edge -----------------------------------------------------------------------------


def _imports_lmms_eval(path: Path) -> bool:
    """Whether the module's source imports lmms_eval anywhere (top level, in a function, or by name)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "lmms_eval" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "lmms_eval":
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_NAME.fullmatch(node.value):
            return True  # importlib.import_module("lmms_eval.x") and the like
    return False


def test_at_most_two_package_modules_import_lmms_eval() -> None:
    sources = [*PACKAGE.rglob("*.py"), *(REPO / "tasks").rglob("*.py")]
    assert len(sources) > 30
    importers = sorted(str(p.relative_to(REPO)) for p in sources if _imports_lmms_eval(p))
    assert importers == ["lmms_eval_eibench/edge/lmms_compat.py", "lmms_eval_eibench/harness/lmms_task.py"], (
        "only lmms_compat.py (the internals) and lmms_task.py (the task classes) may import lmms-eval; "
        "go through lmms_compat instead")


# -- 8. request layouts -----------------------------------------------------------------------------------------


def test_generation_args_generation_request_and_document_responses(task: Any) -> None:
    """A simple request as lmms-eval's simple task builds it, read in `GENERATION_ARGS`'s order; a request we build
    in each layout; what the task's requests hold after lmms-eval's own `apply_filters` (document, responses)."""
    request = lmms_compat.construct_requests(task, False, 0, "ctx", metadata=request_metadata())
    named = dict(zip(lmms_compat.GENERATION_ARGS, lmms_compat.generation_args(request) or ()))
    assert named.get("prompt") == "ctx" and isinstance(named.get("gen_kwargs"), dict), broken("generation_args")
    assert named["doc_to_visual"] == task.doc_to_visual, broken("generation_args")
    assert (named["doc_id"], named["task"], named["split"]) == (0, TASK, "test"), broken("generation_args")
    chat_request = lmms_compat.construct_requests(task, True, 0, "ctx", metadata=request_metadata())
    assert lmms_compat.generation_args(chat_request) is None  # a chat request is not in the simple layout

    evaluate(task, "a smile")
    assert lmms_compat.document_responses(task.instances) == [(0, ["a smile"])], broken("document_responses")

    simple = lmms_compat.generation_request(False, "p", {"max_new_tokens": 4}, None, 3, TASK, "test", idx=1)
    assert lmms_compat.generation_args(simple) == ("p", {"max_new_tokens": 4}, None, 3, TASK, "test")
    assert (simple.request_type, simple.idx, simple.doc_id, simple.task_name) == ("generate_until", 1, 3, TASK), (
        broken("generation_request"))
    to_messages = task.doc_to_messages
    chat = lmms_compat.generation_request(True, "p", {}, None, 3, TASK, "test", idx=0, doc_to_messages=to_messages)
    assert chat.args[1] is to_messages and chat.args[3:] == (3, TASK, "test"), broken("generation_request")
    assert lmms_compat.generation_args(chat) is None  # a chat request is not in the simple layout
