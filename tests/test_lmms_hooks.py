"""The lmms-eval hooks as plain Python (fast): prompts, documents, metrics, and the judging filter driven by
lmms-eval's own FilterEnsemble and Instance classes against the loopback judge."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from judge_server import FakeJudgeConfig, judge_server

from lmms_eval_eibench import pipeline, vocabulary
from lmms_eval_eibench.data import documents
from lmms_eval_eibench.judges import Verdict

OFFICIAL = "You are a good expert of emotion understanding. Look at the image, {question}"


def test_user_and_cot_prompts_are_the_official_wording_for_every_question(official_records):
    records = list(official_records.basic) + list(official_records.complex)
    assert len(records) == 1665
    for record in records:
        doc = record.as_row()
        assert documents.prompt("user", doc) == OFFICIAL.format(question=record.question)
        assert documents.prompt("cot", doc) == OFFICIAL.format(question=record.question) + " Let's think step by step."


def test_model_specific_pre_and_post_prompt():
    doc = {"question": "Why?", "caption": "A man."}
    assert documents.prompt("user", doc, {"pre_prompt": "<i>", "post_prompt": " Answer in English."}) == \
        "<i>" + OFFICIAL.format(question="Why?") + " Answer in English."
    text = documents.prompt("caption_text", doc, {"pre_prompt": "", "post_prompt": ""})
    assert "A man." in text and text.endswith("Why?")


def test_caption_prompts_refuse_a_missing_caption():
    with pytest.raises(documents.EIBenchTaskError, match="eibench_captions"):
        documents.prompt("caption", {"id": "x", "question": "Why?", "caption": None})


def verdict(recall: float | None, total: int = 4, covered: float | None = None) -> Verdict:
    if recall is None:
        return Verdict(id="x", recall=None, covered=None, total=total, judge_failed=True, error="no verdict", raw="???")
    return Verdict(id="x", recall=recall, covered=covered if covered is not None else recall * total, total=total,
                   judge_failed=False, reason="because", raw="{score: 1/4}")


BASIC_DOC = {"id": "CAER-S/train/Happy/1.png", "image_path": "CAER-S/train/Happy/1.png", "category": "Happy"}
COMPLEX_DOC = {"id": "EmoSet-118k/image/fear/f_1.jpg#1", "image_path": "EmoSet-118k/image/fear/f_1.jpg",
               "category": None}


def test_sample_metrics_basic_judged_and_failed_have_the_same_keys():
    judged = pipeline.sample_metrics(BASIC_DOC, verdict(0.25), "eibench_recall", "basic")
    failed = pipeline.sample_metrics(BASIC_DOC, verdict(None), "eibench_recall", "basic")
    assert judged.keys() == failed.keys()
    assert judged["eibench_recall"]["score"] == 25.0 and judged["eibench_recall_happy"] == 25.0
    assert judged["eibench_recall_angry"] is None and judged["eibench_judge_failures"] == 0
    assert judged["eibench_recall"]["verdict"]["reason"] == "because"
    assert judged["eibench_recall_trigger"] == {"covered": 1.0, "total": 4}
    # every sample counts: a judge failure scores 0 (in its category too) and is counted
    assert failed["eibench_recall"]["score"] == 0.0 and failed["eibench_recall_happy"] == 0.0
    assert failed["eibench_recall_trigger"] == {"covered": 0.0, "total": 4} and failed["eibench_judge_failures"] == 1
    assert failed["eibench_recall_judged"] is None and judged["eibench_recall_judged"] == 25.0
    assert failed["eibench_recall"]["verdict"]["raw"] == "???"


def test_sample_metrics_complex_cluster_by_image_and_no_categories():
    metrics = pipeline.sample_metrics(COMPLEX_DOC, verdict(0.5), "eibench_semantic_recall", "complex")
    assert set(metrics) == {"eibench_paired_score", "eibench_semantic_recall", "eibench_semantic_recall_trigger",
                            "eibench_semantic_recall_judged", "eibench_judge_failures", "eibench_generation_failures",
                            "eibench_answer_words"}
    assert metrics["eibench_semantic_recall"]["image_path"] == COMPLEX_DOC["image_path"]
    assert metrics["eibench_answer_words"] == 0  # no answer given: a generation failure's length
    with_budget = pipeline.sample_metrics(COMPLEX_DOC, verdict(0.5), "eibench_semantic_recall", "complex",
                                          answer="a crowd cheering", at_budget=verdict(0.25))
    assert with_budget["eibench_answer_words"] == 3
    assert with_budget["eibench_semantic_recall_at_budget"] == 25.0


def test_paired_score_is_the_headline_recall_as_the_first_number():
    """lmms-eval's --baseline takes the first top-level *_score number of a sample (its evaluator) or the first key
    containing "score" with a number (its loader), and shows their mean x100: the headline recall, 0-1."""
    for doc, subset in ((BASIC_DOC, "basic"), (COMPLEX_DOC, "complex")):
        judged = pipeline.sample_metrics(doc, verdict(0.25), "eibench_recall", subset)
        failed = pipeline.sample_metrics(doc, verdict(None), "eibench_recall", subset)
        assert next(iter(judged)) == "eibench_paired_score" and next(k for k in judged if "score" in k) == next(iter(judged))
        assert judged["eibench_paired_score"] == judged["eibench_recall"]["score"] / 100 == 0.25
        assert failed["eibench_paired_score"] == 0.0  # a failure counts as 0 there too
    assert pipeline.paired_score_mean([0.25, 0.5, 0.0]) == pytest.approx(25.0)  # the row: 0-100
    assert math.isnan(pipeline.paired_score_mean([]))


def test_aggregations_read_the_items_that_carry_a_score():
    items = [{"score": 50.0}, {"verdict": {}}, {"score": 100.0}]
    assert pipeline.recall_mean(items) == 75.0
    assert pipeline.recall_mean([None, 20.0, None]) == 20.0
    assert math.isnan(pipeline.recall_mean([{"verdict": {}}, None]))
    assert pipeline.trigger_recall([{"covered": 1, "total": 4}, None, {"covered": 3, "total": 4}]) == 50.0
    assert math.isnan(pipeline.trigger_recall([None]))
    assert pipeline.failure_count([0, 1, 1]) == 2


@pytest.mark.parametrize("given, expected", [(" hi ", "hi"), (["a"], "a"), ([["b "]], "b"), ([], ""), (None, "")])
def test_answer_text(given, expected):
    assert vocabulary.answer_text(given) == expected


def test_every_task_yaml_name_has_its_shape():
    """The task names the YAMLs define are the ones `task_shape` reads (score and report both rely on it)."""
    import yaml

    names = set()
    for path in (Path(__file__).resolve().parents[1] / "tasks" / "eibench").glob("*.yaml"):
        task = yaml.safe_load(path.read_text().replace("!function", "")).get("task")
        if isinstance(task, str) and task != "eibench_captions":
            names.add(task)
    assert {vocabulary.task_shape(n) for n in names} == {(s, t) for s in ("basic", "complex")
                                                         for t in vocabulary.TEMPLATES}
    for other in ("eibench_captions", "eibench_basic_user", "eibench_complex_", "eibench_basic_x", "mmmu_val", None):
        assert vocabulary.task_shape(other) is None


def test_missing_dataset_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("EIBENCH_DATASET", str(tmp_path / "nowhere"))
    with pytest.raises(documents.EIBenchTaskError, match="hub_upload.py"):
        documents.task_docs("basic", "user")


def test_unreachable_hub_dataset_says_what_to_check(monkeypatch):
    monkeypatch.setenv("EIBENCH_DATASET", "some-org/eibench-private")  # HF_HUB_OFFLINE=1 in tests: unreachable
    with pytest.raises(documents.EIBenchTaskError, match="some-org/eibench-private") as err:
        documents.task_docs("basic", "user")
    assert "huggingface-cli login" in str(err.value) and "EIBENCH_DATASET" in str(err.value)


def test_dataset_without_captions_is_refused_with_the_instruction(monkeypatch, sample_dataset_dir):
    monkeypatch.setenv("EIBENCH_DATASET", str(sample_dataset_dir))
    assert len(documents.task_docs("basic", "user")) == 8
    with pytest.raises(documents.EIBenchTaskError, match="eibench_captions") as err:
        documents.task_docs("complex", "caption_text")
    assert "4 of 4 rows have no caption" in str(err.value)


def test_caption_request_docs_are_the_distinct_images(monkeypatch, sample_dataset_dir):
    monkeypatch.setenv("EIBENCH_DATASET", str(sample_dataset_dir))
    docs = documents.caption_request_docs()
    paths = docs["image_path"]
    assert len(paths) == len(set(paths)) and len(paths) >= 8
    assert documents.prompt("caption_request", docs[0]).startswith("Describe this image in detail")


def test_annotations_only_dataset_takes_images_from_the_image_root(monkeypatch, tmp_path):
    from lmms_eval_eibench.data.build import ImageRoots, build
    from lmms_eval_eibench.data.records import find_annotation_root, load_records
    from lmms_eval_eibench.data.sample import SAMPLE_DIR, write_images

    built = tmp_path / "no-images"
    build(None, built, ImageRoots(), no_images=True, log=lambda line: None)
    monkeypatch.setenv("EIBENCH_DATASET", str(built))
    monkeypatch.delenv("EIBENCH_IMAGE_ROOT", raising=False)
    with pytest.raises(documents.EIBenchTaskError, match="EIBENCH_IMAGE_ROOT"):
        documents.task_docs("basic", "user")
    root = tmp_path / "images"
    monkeypatch.setenv("EIBENCH_IMAGE_ROOT", str(root))
    with pytest.raises(documents.EIBenchTaskError, match="images missing under"):
        documents.task_docs("basic", "user")
    write_images(load_records(find_annotation_root(SAMPLE_DIR)).image_paths(), root)
    docs = documents.task_docs("basic", "user")
    image = documents.doc_to_visual(docs[0])[0]
    assert image.mode == "RGB" and image.size[0] > 0


@pytest.fixture
def loopback_judge(monkeypatch, tmp_path, sample_dataset_dir):
    with judge_server(FakeJudgeConfig(latency=0.2)) as judge:
        for name, value in {"EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_JUDGE": "openai",
                            "EIBENCH_JUDGE_BASE_URL": judge.base_url, "EIBENCH_JUDGE_API_KEY": judge.api_key,
                            "EIBENCH_JUDGE_MODEL": judge.model, "EIBENCH_CACHE_DIR": str(tmp_path / "verdicts"),
                            "EIBENCH_JUDGE_CONCURRENCY": "8"}.items():
            monkeypatch.setenv(name, value)
        yield judge


def build_task(name: str):
    """The task as lmms-eval builds it: its TaskManager, our YAMLs, our task class."""
    from lmms_eval.tasks import TaskManager

    from lmms_eval_eibench.harness.discovery import tasks_dir

    manager = TaskManager(include_path=str(tasks_dir()), include_defaults=False)
    return manager.load_task_or_group([name])[name]


def requests_with_answers(task, answers) -> list:
    """What lmms-eval does between building requests and applying filters: the model answers each request."""
    task.build_all_requests(limit=None, rank=0, world_size=1)
    for instance in task.instances:
        instance.resps.append(answers[instance.doc_id])
    return task.instances


def test_task_judges_every_answer_once_in_one_concurrent_call(loopback_judge):
    """lmms-eval's own TaskManager and Instances: after the filters the task judges all answers together, and
    process_results then only looks verdicts up (no further judge request)."""
    task = build_task("eibench_basic")
    docs = task.eval_docs_no_media
    requests_with_answers(task, [f" answer {i}: a friend, a birthday cake " for i in range(len(docs))])
    task.apply_filters()
    assert loopback_judge.stats.chat_requests == len(docs)
    assert loopback_judge.stats.max_in_flight > 1, "answers must be judged concurrently, not one at a time"
    for instance in task.instances:
        doc = docs[instance.doc_id]
        metrics = task.process_results(doc, [instance.filtered_resps["none"]])
        assert metrics["eibench_recall"]["verdict"]["id"] == doc["id"]
        assert metrics["eibench_judge_failures"] == 0
    assert loopback_judge.stats.chat_requests == len(docs), "process_results must reuse the task's verdicts"


def test_reasoning_is_stripped_with_lmms_evals_tags_before_judging(loopback_judge):
    """--reasoning_tags (on by default in the CLI): the judge sees the answer process_results will see, once."""
    import argparse

    from lmms_eval.api.reasoning import parse_reasoning_tags_config, strip_reasoning_tags

    task = build_task("eibench_basic")
    task.args = argparse.Namespace(reasoning_tags='[["<think>", "</think>"], ["<analysis>", "</analysis>"]]')
    docs = task.eval_docs_no_media
    answers = [f"<think>Let me look closely at picture {i}.</think> a friend, a birthday cake" for i in range(len(docs))]
    requests_with_answers(task, answers)
    task.apply_filters()
    assert loopback_judge.stats.chat_requests == len(docs)
    assert not any("<think>" in prompt for prompt in loopback_judge.stats.prompts_answered)
    tags = parse_reasoning_tags_config(cli_value=task.args.reasoning_tags)
    for instance in task.instances:  # as lmms-eval's evaluator strips before process_results
        task.process_results(docs[instance.doc_id], [strip_reasoning_tags(instance.filtered_resps["none"], tags)])
    assert loopback_judge.stats.chat_requests == len(docs)


@pytest.mark.parametrize("failed_answer", ["cfsa", "", "  \n "])
def test_generation_failures_are_never_judged_count_as_zero_and_apart(loopback_judge, failed_answer):
    """A CFSA failure line or an empty answer (lmms-eval's llava_hf returns "" when generation raises) is not an
    answer: the task never sends it to the judge, scores it 0 and counts it apart."""
    from lmms_eval_eibench.vocabulary import FAILED_PREFIX

    if failed_answer == "cfsa":
        failed_answer = f"{FAILED_PREFIX} at step 'summary': base model raised]"
    task = build_task("eibench_basic")
    docs = task.eval_docs_no_media
    answers = [failed_answer] + [doc["ground_truth"] for doc in docs][1:]
    requests_with_answers(task, answers)
    task.apply_filters()
    assert loopback_judge.stats.chat_requests == len(docs) - 1, "a failed generation must never be sent to the judge"
    failed, judged = (task.process_results(docs[i], [answers[i].strip()]) for i in range(2))
    assert loopback_judge.stats.chat_requests == len(docs) - 1
    assert failed.keys() == judged.keys()
    assert failed["eibench_recall"]["score"] == 0.0 and failed["eibench_recall_judged"] is None
    assert failed["eibench_recall_trigger"]["covered"] == 0.0
    assert failed["eibench_generation_failures"] == 1 and failed["eibench_judge_failures"] == 0
    assert "generation failed" in failed["eibench_recall"]["verdict"]["error"]
    assert judged["eibench_generation_failures"] == 0 and judged["eibench_recall"]["score"] > 0
    items = [failed["eibench_recall"], judged["eibench_recall"]]
    assert pipeline.recall_mean(items) == judged["eibench_recall"]["score"] / 2  # abstaining costs, never helps
    judged_only = [failed["eibench_recall_judged"], judged["eibench_recall_judged"]]
    assert pipeline.recall_mean(judged_only) == judged["eibench_recall"]["score"]


def test_generation_failure_names_the_cause():
    from lmms_eval_eibench import vocabulary

    assert "empty answer" in vocabulary.generation_failure("")
    assert "empty answer" in vocabulary.generation_failure([" \t"])
    assert vocabulary.generation_failure("[eibench_cfsa failed at step 'x': boom]").startswith("[eibench_cfsa failed")
    assert vocabulary.generation_failure("a birthday cake") is None
    assert vocabulary.failure_reason("") is None  # only CFSA's line is a CFSA failure


def test_image_files_are_closed_after_loading(monkeypatch, tmp_path):
    """doc_to_visual decodes the file and closes it (thousands of samples must not leak file handles)."""
    import gc
    import warnings

    from PIL import Image

    # an animated GIF: Pillow keeps such files open after decoding a frame, until the image is closed
    path = tmp_path / "CAER-S" / "a.gif"
    path.parent.mkdir()
    frames = [Image.new("P", (4, 3), i) for i in range(2)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    monkeypatch.setenv("EIBENCH_IMAGE_ROOT", str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # a file left open warns "unclosed file" when its object is freed
        images = documents.doc_to_visual({"id": "a", "image_path": "CAER-S/a.gif", "image": None})
        images += documents.doc_to_visual({"id": "b", "image": {"bytes": None, "path": str(path)}})
        gc.collect()
    # only this image's file counts: gc may also report other tests' leftovers (e.g. sockets) here
    leaked = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning) and "a.gif" in str(w.message)]
    assert leaked == []
    assert [(im.mode, im.size) for im in images] == [("RGB", (4, 3))] * 2


def test_an_answer_the_filters_did_not_see_is_judged_when_scored(loopback_judge):
    task = build_task("eibench_complex")
    docs = task.eval_docs_no_media
    metrics = task.process_results(docs[0], ["an answer"])
    assert loopback_judge.stats.chat_requests == 1 and not metrics["eibench_recall"]["verdict"]["failed"]


def test_predict_only_is_learned_from_lmms_evals_bypass_metric(monkeypatch, sample_dataset_dir):
    """--predict_only switches a task's metrics to "bypass": then no preflight, no judging, no judge record."""
    from lmms_eval_eibench.judges import PreflightError
    from lmms_eval_eibench.provenance import METADATA_KEY

    monkeypatch.setenv("EIBENCH_DATASET", str(sample_dataset_dir))
    monkeypatch.setenv("EIBENCH_JUDGE", "openai")
    monkeypatch.setenv("EIBENCH_JUDGE_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", "sk-test-unused")
    monkeypatch.setenv("EIBENCH_JUDGE_TIMEOUT", "1")
    judged = build_task("eibench_basic")
    assert METADATA_KEY in judged.config.metadata  # written when the task is built
    with pytest.raises(PreflightError):  # right before generation: in seconds, not after the model ran
        judged.build_all_requests(limit=None, rank=0, world_size=1)
    predicted = build_task("eibench_basic")
    predicted.override_metric("bypass")  # what lmms-eval does for --predict_only
    assert METADATA_KEY not in predicted.config.metadata
    requests_with_answers(predicted, ["an answer"] * len(predicted.eval_docs_no_media))
    predicted.apply_filters()  # nothing judged: the endpoint is closed and no error is raised
    metrics = predicted.process_results(predicted.eval_docs_no_media[0], ["an answer"])
    assert "eibench_recall" not in metrics


def test_every_eibench_task_aggregates_the_paired_score():
    """--baseline must work for every EIBench task of both harnesses: each is built by the EIBench task class, whose
    metric_list (metrics.METRICS, the one table: no YAML lists a metric) starts with eibench_paired_score."""
    import yaml

    from lmms_eval_eibench import metrics, pipeline
    from lmms_eval_eibench.harness.discovery import tasks_dir
    from lmms_eval_eibench.lm_eval_tasks import folder
    from lmms_eval_eibench.vocabulary import task_shape

    def load(path: Path) -> dict:  # the !function tags as plain strings
        return yaml.safe_load(path.read_text().replace("!function ", "")) or {}

    def merged(path: Path) -> dict:
        config = load(path)
        return {**(merged(path.parent / config["include"]) if config.get("include") else {}), **config}

    checked = []
    for path in [*sorted(tasks_dir().glob("eibench_*.yaml")), *sorted(Path(folder()).rglob("eibench_*.yaml"))]:
        config = merged(path)
        task = config.get("task")
        if task_shape(task) is None:
            continue  # groups and eibench_captions (no recall)
        assert config["class"] == "utils.EIBenchTask" and "metric_list" not in config, path
        built = metrics.metric_list(config["dataset_name"], pipeline.aggregation)
        assert built[0]["metric"] == "eibench_paired_score", path
        checked.append(task)
    assert {"eibench_basic", "eibench_complex_cot", "eibench_basic_caption_text"} <= set(checked) and len(checked) >= 10
