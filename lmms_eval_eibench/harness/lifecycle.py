"""The EIBench task lifecycle (``EIBenchLifecycle``), shared by lmms-eval and lm-eval through their own
extension point.

Both harnesses accept ``class: !function utils.X`` in a task YAML and build that ``ConfigurableTask`` subclass
(lmms-eval's own ``tasks/vstat`` does). ``EIBenchLifecycle`` is mixed into each harness's ``ConfigurableTask`` (see
``tasks/eibench/utils.py`` and ``lm_eval_tasks/eibench/utils.py``) and owns the task's lifecycle through public
methods only:

1. ``__init__``: the harness builds the task before the model generates; the provenance record goes into the
   task's own ``config.metadata`` (copied into the results file), and a failure to build it stops the run.
2. ``download``: the real split (``EIBENCH_DATASET`` / the default folder / a Hub repo), verified and checked for
   what the template needs (images, captions), with one clear message when something is missing.
3. ``override_metric("bypass")``: the harness's own ``--predict_only`` signal: nothing is judged afterwards.
4. ``build_all_requests``: runs right before generation; lmms-eval's ``--output_path`` is checked here (lmms-eval
   itself tries it only after the whole run, and then logs the failure and exits 0), and the judge's preflight
   runs here, so a bad key fails in seconds instead of after hours of inference (and the coherence models load,
   when asked for).
5. ``apply_filters``: after the filters, every response of this process's share of the task is known: the final
   answers (after lmms-eval's reasoning-tag stripping, with the tags lmms-eval will apply) are judged in one
   concurrent, cached call, each document once; with ``EIBENCH_WORD_BUDGET`` the answers over it are judged again
   cut, and with ``EIBENCH_COHERENCE`` every answer's coherence is computed in the same pass. Ctrl-C there says
   how many verdicts the cache holds and exits 130 (``SystemExit``, which lmms-eval does not catch).
6. ``process_results``: per document, looks its verdict up and returns the metrics (``pipeline.sample_metrics``),
   those the ``metric_list`` built at construction from ``metrics.METRICS`` names.

Nothing here imports a harness: the concrete classes do, in the harness's own ``utils.py``; what reaches into
lmms-eval (the reasoning tags, the metric registry) is in ``lmms_compat``, and does nothing harmful under lm-eval.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from lmms_eval_eibench import metrics, pipeline
from lmms_eval_eibench.data import documents
from lmms_eval_eibench.edge import lmms_compat
from lmms_eval_eibench.prompts import template_version
from lmms_eval_eibench.provenance import METADATA_KEY
from lmms_eval_eibench.scoring.coherence import CoherenceSettings, scorer
from lmms_eval_eibench.scoring.length import word_budget
from lmms_eval_eibench.vocabulary import answer_text

__all__ = ["CaptionsLifecycle", "EIBenchLifecycle"]


def _logger() -> Any:
    """lmms-eval's logger (loguru) when present, else the standard one (the lm-eval side)."""
    try:
        from loguru import logger
    except ImportError:
        return logging.getLogger("lmms_eval_eibench")
    return logger


def info(message: str) -> None:
    _logger().info(message)


def warn(message: str) -> None:
    _logger().warning(message)


class EIBenchLifecycle:
    """Mixed in before a harness's ``ConfigurableTask``. The YAML gives ``dataset_name`` (the subset) and
    ``metadata.prompt_template`` (the model prompt: user, cot, caption, caption_text)."""

    def __init__(self, *args: Any, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        config = dict(config or {})
        config.pop("class", None)  # the harness's own constructor does not know the key
        # our metrics come from the process_results method below, not the harness's metric registry
        lmms_compat.own_process_results(config)
        # The metric list is built from metrics.METRICS here rather than written in (or generated into) the YAMLs:
        # both harnesses' ConfigurableTask.__init__ read config["metric_list"] (metric, aggregation callable,
        # higher_is_better) and nothing reads it earlier, so the table stays the only place a metric is listed
        # and no file can drift from it.
        config["metric_list"] = metrics.metric_list(str(config.get("dataset_name")), pipeline.aggregation)
        self._predict_only = False
        self._verdicts: dict[tuple[str, str], Any] = {}
        self._budget_verdicts: dict[tuple[str, str], Any] = {}
        self._word_budget: int | None = None
        self._coherence: Any = None  # coherence.CoherenceSettings when EIBENCH_COHERENCE asks for the metric
        self._coherence_scores: dict[tuple[str, str], float | None] = {}
        self._verdicts_lock = threading.Lock()
        self._warned_unjudged = False
        self._world_size = 1
        super().__init__(*args, config=config, **kwargs)
        self._record_provenance()

    # -- what the YAML says -----------------------------------------------------------------------------------

    @property
    def subset(self) -> str:
        return str(self.config.dataset_name)

    @property
    def template(self) -> str:
        metadata = self.config.metadata if isinstance(self.config.metadata, Mapping) else {}
        return str(metadata.get("prompt_template") or "user")

    # -- lifecycle --------------------------------------------------------------------------------------------

    def download(self, *args: Any, **kwargs: Any) -> None:
        """Load the real split (the YAML's ``dataset_path`` is not used)."""
        import datasets

        split = documents.task_docs(self.subset, self.template)
        name = self.config.test_split
        self.dataset = datasets.DatasetDict({name: split})
        media = [c for c in ("image",) if c in split.column_names]
        self.dataset_no_image = datasets.DatasetDict({name: split.remove_columns(media) if media else split})

    def _record_provenance(self) -> None:
        metadata = dict(self.config.metadata) if isinstance(self.config.metadata, Mapping) else {}
        metadata["prompt_version"] = template_version(self.template)
        generation = getattr(self.config, "generation_kwargs", None)
        try:  # a bad EIBENCH_WORD_BUDGET or EIBENCH_COHERENCE stops the run here, before generation
            self._word_budget = word_budget()
            self._coherence = CoherenceSettings.from_env()
        except ValueError as err:
            raise documents.EIBenchTaskError(f"EIBench: {err}") from None
        record = pipeline.provenance_record(pipeline.engine().identity, template=self.template,
                                            generation=generation, word_budget=self._word_budget,
                                            coherence=self._coherence.record() if self._coherence else None)
        # --gen_kwargs is applied after construction, in place on this same dict (set_config(update=True)), and
        # before the harness copies the config for the results file: the record then shows what was used.
        if isinstance(generation, dict):
            record["generation"] = generation
        metadata[METADATA_KEY] = record
        self.config.metadata = metadata

    def override_metric(self, metric_name: str) -> None:
        """The harnesses call this with ``bypass`` for ``--predict_only``: judge nothing, record no judge."""
        super().override_metric(metric_name)
        if metric_name == "bypass":
            self._predict_only = True
            if isinstance(self.config.metadata, dict):
                self.config.metadata.pop(METADATA_KEY, None)

    def build_all_requests(self, *args: Any, **kwargs: Any) -> Any:
        """Runs right before generation: check the judge now, not after the model has run."""
        self._world_size = int(kwargs.get("world_size") or 1)
        self._check_output_path()
        if not self._predict_only:
            pipeline.engine().preflight()
            self._check_baseline()
            if self._coherence is not None:  # a missing spaCy or BERT model fails now, not after generation
                try:
                    scorer(self._coherence)
                except (ImportError, RuntimeError) as err:
                    raise documents.EIBenchTaskError(f"EIBench: {err}") from None
        return super().build_all_requests(*args, **kwargs)

    def _check_output_path(self) -> None:
        """Stop before generation when lmms-eval could not save the run (a path under a file, a read-only disk):
        it would otherwise generate and judge everything, log the failure at INFO level and exit 0."""
        from lmms_eval_eibench.files import InputFileError, check_output_folder

        path = lmms_compat.output_path(self)
        if path is None:
            return
        try:
            check_output_folder(path, "--output_path")
        except InputFileError as err:
            raise documents.EIBenchTaskError(
                f"EIBench: lmms-eval could not save this run: {err}. Checked before generation: nothing has been "
                "generated or judged") from None

    def _check_baseline(self) -> None:
        """lmms-eval's ``--baseline`` (on ``self.args``, set before this runs) compares whatever it is given: say
        so before generation when the baseline was judged or prompted otherwise."""
        from lmms_eval_eibench.runs import baseline_warnings

        metadata = self.config.metadata if isinstance(self.config.metadata, Mapping) else {}
        baseline = getattr(getattr(self, "args", None), "baseline", None)
        for message in baseline_warnings(baseline, self.config.task, metadata.get(METADATA_KEY)):
            warn(f"EIBench {self.config.task}: {message}")

    def apply_filters(self) -> Any:
        result = super().apply_filters()
        if not self._predict_only:
            self._judge_instances()
        return result

    def _judge_instances(self) -> None:
        from lmms_eval_eibench.judges import JudgeItem

        instances = list(self.instances or [])
        if not instances:
            return
        tags = lmms_compat.reasoning_tags(self)
        docs = self.task_docs
        table = docs.select_columns([c for c in pipeline.JUDGED_COLUMNS if c in docs.column_names])
        items: dict[tuple[str, str], JudgeItem] = {}
        responses = lmms_compat.document_responses(instances)
        for doc_id, filtered in responses:
            doc = table[doc_id]
            for response in filtered:
                answer = answer_text(lmms_compat.strip_reasoning(response, tags))
                items.setdefault((str(doc["id"]), answer), JudgeItem.from_doc(doc, answer))
        n_docs = len({doc_id for doc_id, _ in responses})
        if self._world_size == 1 and (message := pipeline.partial_warning(self.config.task, n_docs, len(docs),
                                                                                 "--limit?")):
            warn(f"EIBench: {message}")
        started = time.perf_counter()
        engine = pipeline.engine()
        at_budget: list[Any] = []
        try:
            verdicts = pipeline.judge_answers(engine, list(items.values()))
            if self._word_budget is not None:  # answers within it keep their verdict: only the cut ones are sent
                _, at_budget = pipeline.judge_at_budget(engine, list(items.values()), verdicts, self._word_budget)
        except KeyboardInterrupt:  # as `eibench score` says it: what is saved, and that a rerun resumes
            message = pipeline.interrupted_message(engine, list(items.values()), "the same lmms-eval command",
                                                   "the model generates again, and an answer already judged is not "
                                                   "sent to the judge again")
            print(f"EIBench {self.config.task}: {message}", file=sys.stderr)
            raise SystemExit(130) from None  # 128 + SIGINT, a shell's status for Ctrl-C
        coherence: list[float | None] = []
        if self._coherence is not None:  # every answer of this process in a few forward passes
            coherence = scorer(self._coherence).answer_scores([item.answer for item in items.values()])
        with self._verdicts_lock:
            self._verdicts.update(zip(items, verdicts))
            self._budget_verdicts.update(zip(items, at_budget))
            self._coherence_scores.update(zip(items, coherence))
        judged = [v for v in verdicts if not v.generation_failed]
        info(f"EIBench: judged {len(judged)} answers of {self.config.task} in {time.perf_counter() - started:.2f} s "
             f"({engine.judge.kind} judge, concurrency {engine.judge.concurrency}, "
             f"{sum(v.cached for v in judged)} from cache, {sum(v.judge_failed for v in judged)} failed, "
             f"{len(verdicts) - len(judged)} without an answer)")

    def process_results(self, doc: Mapping[str, Any], results: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Per document (lmms-eval: in a thread pool): the verdict ``apply_filters`` got, as metrics."""
        if self._predict_only:
            return super().process_results(doc, results, *args, **kwargs)
        from lmms_eval_eibench.judges import JudgeItem

        answer = answer_text(results)
        engine = pipeline.engine()
        with self._verdicts_lock:
            verdict = self._verdicts.get((str(doc["id"]), answer))
            at_budget = self._budget_verdicts.get((str(doc["id"]), answer))
            coherence = self._coherence_scores.get((str(doc["id"]), answer))
        if verdict is None:
            # the harness changed the answer after the filters in a way we did not foresee: still correct, slower
            if not self._warned_unjudged:
                self._warned_unjudged = True
                warn(f"EIBench {self.config.task}: an answer reached process_results unjudged; judging such "
                     "answers one at a time")
            verdict = pipeline.judge_answers(engine, [JudgeItem.from_doc(doc, answer)])[0]
        if self._word_budget is not None and at_budget is None:
            item = JudgeItem.from_doc(doc, answer)
            at_budget = pipeline.judge_at_budget(engine, [item], [verdict], self._word_budget)[1][0]
        if self._coherence is not None and (str(doc["id"]), answer) not in self._coherence_scores:
            coherence = scorer(self._coherence).answer_scores([answer])[0]
        return pipeline.sample_metrics(doc, verdict, engine.metric_name, self.subset, answer=answer,
                                       at_budget=at_budget, with_coherence=self._coherence is not None,
                                       coherence=coherence)


class CaptionsLifecycle:
    """Mixed in before a harness's ``ConfigurableTask`` for ``eibench_captions``: loads one document per distinct
    image of both subsets; nothing is judged."""

    def __init__(self, *args: Any, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        config = dict(config or {})
        config.pop("class", None)
        super().__init__(*args, config=config, **kwargs)

    def download(self, *args: Any, **kwargs: Any) -> None:
        import datasets

        docs = documents.caption_request_docs()
        name = self.config.test_split
        self.dataset = datasets.DatasetDict({name: docs})
        self.dataset_no_image = datasets.DatasetDict({name: docs.remove_columns(["image"])})
