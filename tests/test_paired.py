"""Paired comparison of two runs: the statistics (paired.py), reading runs back (runs.py), `eibench report --paired`
and the --baseline check, on run files in lmms-eval 0.7.3's layout written here (the real runs: test_lmms_compare)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from lmms_eval_eibench.cli import main
from lmms_eval_eibench.runs import baseline_warnings, read_run
from lmms_eval_eibench.scoring.paired import paired_difference, student_t_quantile, student_t_sf

JUDGE = {"kind": "embedding", "model": "all-MiniLM-L6-v2", "prompt": {"template": "embedding_coverage", "version": "1"},
         "decoding": {}, "options": {"threshold": 0.53}, "endpoint": None}


def provenance(template: str = "user", threshold: float = 0.53) -> dict:
    return {"schema_version": 1, "plugin": {"name": "lmms-eval-eibench", "version": "0.2.0"},
            "judge": {**JUDGE, "options": {"threshold": threshold}},
            "model_prompt": {"template": template, "version": "1"}, "generation": None,
            "dataset": {"source": "/data", "revision": None, "manifest_sha256": "ab" * 32}}


def write_run(folder: Path, task: str, scores: dict[str, float], *, categories: dict[str, str] | None = None,
              images: dict[str, str] | None = None, record: dict | None = None, paired_key: bool = True,
              stamp: str = "20260101_000000") -> Path:
    """A run as lmms-eval writes it: <stamp>_samples_<task>.jsonl beside <stamp>_results.json."""
    folder.mkdir(parents=True, exist_ok=True)
    metric = "eibench_semantic_recall"
    lines = []
    for doc_id, (sample_id, score) in enumerate(scores.items()):
        line: dict = {"doc_id": doc_id, "target": "1. x", "filtered_resps": "answer"}
        if paired_key:
            line["eibench_paired_score"] = score
        image = (images or {}).get(sample_id, sample_id)
        line[metric] = {"image_path": image, "score": 100 * score, "verdict": {"id": sample_id}}
        for category in ("Happy", "Angry", "Sadness", "Excitement") if categories else ():
            line[f"{metric}_{category.lower()}"] = 100 * score if categories[sample_id] == category else None
        lines.append(json.dumps(line))
    samples = folder / f"{stamp}_samples_{task}.jsonl"
    samples.write_text("\n".join(lines) + "\n")
    results = {"results": {task: {f"{metric},none": 100 * sum(scores.values()) / len(scores)}},
               "configs": {task: {"metadata": {"eibench_provenance": record or provenance()}}}}
    (folder / f"{stamp}_results.json").write_text(json.dumps(results))
    return samples


def test_student_t_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 7, 49, 1614):
        for t in (0.05, 1.0, 2.2, 6.5):
            assert student_t_sf(t, df) == pytest.approx(stats.t.sf(t, df), abs=1e-12)
            assert student_t_sf(-t, df) == pytest.approx(stats.t.sf(-t, df), abs=1e-12)
        assert student_t_quantile(0.975, df) == pytest.approx(stats.t.ppf(0.975, df), abs=1e-9)


def test_paired_difference_is_lmms_evals_paired_ttest():
    metrics = pytest.importorskip("lmms_eval.api.metrics")
    rng = random.Random(7)
    a = [rng.random() for _ in range(60)]
    b = [min(1.0, x + rng.gauss(0.04, 0.2)) for x in a]
    ours, theirs = paired_difference(a, b), metrics.paired_ttest(b, a)
    assert ours.diff == pytest.approx(theirs["mean_diff"])
    assert (ours.ci_low, ours.ci_high) == pytest.approx((theirs["ci_lower"], theirs["ci_upper"]))
    assert ours.p_value == pytest.approx(theirs["p_value"], abs=1e-12)


def test_clustering_by_image():
    rng = random.Random(3)
    a = [rng.random() for _ in range(30)]
    b = [rng.random() for _ in range(30)]
    plain = paired_difference(a, b)
    # one sample per image: the clustered test is the plain one
    singletons = paired_difference(a, b, clusters=list(range(30)))
    assert singletons.stderr == pytest.approx(plain.stderr) and singletons.p_value == pytest.approx(plain.p_value)
    # every question asked twice of the same image: no new information, so the same interval as the originals,
    # while the naive test on the 60 would claim a narrower one
    twice_a, twice_b, images = a + a, b + b, list(range(30)) * 2
    clustered = paired_difference(twice_a, twice_b, clusters=images)
    naive = paired_difference(twice_a, twice_b)
    assert clustered.stderr == pytest.approx(plain.stderr)
    assert clustered.clusters == 30 and clustered.df == 29
    assert naive.stderr < clustered.stderr * 0.75


def test_degenerate_inputs():
    assert math.isnan(paired_difference([0.5], [0.7]).p_value)
    same = paired_difference([0.2, 0.4], [0.3, 0.5])  # every pair +0.1: certain
    assert same.diff == pytest.approx(0.1) and same.p_value == 0.0
    with pytest.raises(ValueError, match="same length"):
        paired_difference([0.1, 0.2], [0.1])


def test_report_paired_basic_per_category(tmp_path, capsys):
    ids = [f"CAER-S/train/Angry/{i}.png" for i in range(6)] + [f"EmoSet-118k/image/amusement/{i}.jpg" for i in range(4)]
    categories = {i: "Angry" if "Angry" in i else "Happy" for i in ids}
    rng = random.Random(1)
    a_scores = {i: rng.choice([0.0, 0.25, 0.5]) for i in ids}
    b_scores = {i: min(1.0, s + rng.choice([0.0, 0.25, 0.5])) for i, s in a_scores.items()}
    a = write_run(tmp_path / "A", "eibench_basic", a_scores, categories=categories)
    b = write_run(tmp_path / "B", "eibench_basic", b_scores, categories=categories, stamp="20260102_000000")
    assert main(["report", "--paired", str(a), str(b.with_name("20260102_000000_results.json"))]) == 0
    table = capsys.readouterr().out
    rows = {line.split("|")[2].strip(): line.split("|") for line in table.splitlines() if line.startswith("| eibench")}
    assert set(rows) == {"overall", "Angry", "Happy"}
    for scope, keys in (("overall", ids), ("Angry", ids[:6]), ("Happy", ids[6:])):
        expected = paired_difference([100 * a_scores[k] for k in keys], [100 * b_scores[k] for k in keys])
        assert rows[scope][3].strip() == str(len(keys))
        assert float(rows[scope][6]) == pytest.approx(expected.diff, abs=0.005)
        assert rows[scope][7].strip() == f"[{expected.ci_low:.2f}, {expected.ci_high:.2f}]"


def test_report_paired_complex_is_clustered(tmp_path, capsys):
    ids = [f"img{i // 3}.jpg#{i % 3}" for i in range(12)]
    images = {i: i.split("#")[0] for i in ids}
    a = write_run(tmp_path / "A", "eibench_complex", {i: 0.25 * (n % 3) for n, i in enumerate(ids)}, images=images)
    b = write_run(tmp_path / "B", "eibench_complex", {i: 0.25 * (n % 4) for n, i in enumerate(ids)}, images=images)
    assert main(["report", "--paired", str(a), str(b)]) == 0
    assert "clustered by image (4 images)" in capsys.readouterr().out


@pytest.mark.parametrize("change, words", [
    ({"record": provenance(threshold=0.6)}, "different judge"),
    ({"record": provenance(template="cot")}, "model prompt user v1 vs cot v1"),
    ({"task": "eibench_complex"}, "different questions"),
    ({"scores": {"a.png": 0.5, "c.png": 0.0}}, "other samples: 1 only in A, 1 only in B"),
    ({"no_results": True}, "no EIBench provenance"),
])
def test_report_paired_refuses_incomparable_runs(tmp_path, capsys, change, words):
    a = write_run(tmp_path / "A", "eibench_basic", {"a.png": 0.5, "b.png": 1.0}, categories={"a.png": "Angry", "b.png": "Angry"})
    scores = change.get("scores", {"a.png": 0.25, "b.png": 1.0})
    b = write_run(tmp_path / "B", change.get("task", "eibench_basic"), scores, record=change.get("record"),
                  categories={k: "Angry" for k in scores})
    if change.get("no_results"):
        b.with_name("20260101_000000_results.json").unlink()
    out = tmp_path / "paired.md"
    assert main(["report", "--paired", str(a), str(b), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not comparable sample by sample" in err and words in err
    assert not out.exists()


def test_read_run_of_results_file_skips_other_tasks(tmp_path):
    samples = write_run(tmp_path, "eibench_complex", {"x.jpg#0": 0.5})
    (tmp_path / "20260101_000000_samples_tiny_echo.jsonl").write_text('{"doc_id": 0, "exact_match": 1.0}\n')
    runs = read_run(samples.with_name("20260101_000000_results.json"))
    assert [r.task for r in runs] == ["eibench_complex"] and runs[0].samples["x.jpg#0"].score == 0.5


def test_baseline_warnings(tmp_path):
    ours = provenance()
    same = write_run(tmp_path / "same", "eibench_basic", {"a.png": 0.5})
    assert baseline_warnings(str(same), "eibench_basic", ours) == []
    other_judge = write_run(tmp_path / "judge", "eibench_basic", {"a.png": 0.5}, record=provenance(threshold=0.7))
    [warning] = baseline_warnings(str(other_judge), "eibench_basic", ours)
    assert "threshold=0.7" in warning and "threshold=0.53" in warning
    old = write_run(tmp_path / "old", "eibench_basic", {"a.png": 0.5}, paired_key=False)
    assert any("exact match, 0 each" in w for w in baseline_warnings(str(old), "eibench_basic", ours))
    complex_ = write_run(tmp_path / "complex", "eibench_complex", {"a.png#0": 0.5})
    assert any("different questions" in w for w in baseline_warnings(str(complex_), "eibench_basic", ours))
    assert baseline_warnings("qwen25vl", "eibench_basic", ours) == []  # a preset: lmms-eval's own
