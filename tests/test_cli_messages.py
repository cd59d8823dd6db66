"""What the `eibench` command says to a newcomer who hands it the wrong thing, through the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EIBENCH = str(Path(sys.executable).with_name("eibench"))


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([EIBENCH, *args], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, **(env or {})})


def test_version():
    import lmms_eval_eibench

    done = run("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"lmms-eval-eibench {lmms_eval_eibench.__version__}"


def test_report_on_a_predict_only_run_says_to_score_it_first(tmp_path):
    folder = tmp_path / "out" / "dummy"
    folder.mkdir(parents=True)
    (folder / "20261202_050000_results.json").write_text(json.dumps(
        {"results": {"eibench_basic": {"alias": "eibench_basic", "bypass,none": 999}}, "configs": {}}, indent=2))
    samples = folder / "20261202_050000_samples_eibench_basic.jsonl"
    samples.write_text(json.dumps({"doc_id": 0, "resps": [["a"]], "filtered_resps": ["a"]}) + "\n")
    for target in (tmp_path / "out", folder / "20261202_050000_results.json"):
        done = run("report", str(target))
        assert done.returncode == 2 and "eibench score" in done.stderr and "Traceback" not in done.stderr, done.stderr
    done = run("report", str(samples))
    assert done.returncode == 2 and "samples file" in done.stderr and "eibench score" in done.stderr


def test_a_missing_dataset_folder_is_named_as_given(tmp_path):
    missing = tmp_path / "not-built"
    answers = tmp_path / "a.jsonl"
    answers.write_text(json.dumps({"CAER-S/train/Angry/0006.png": "x"}) + "\n")
    done = run("score", str(answers), "--subset", "basic", "--no-cache", env={"EIBENCH_DATASET": str(missing)})
    assert done.returncode == 2
    assert f"No EIBench dataset at {missing} (from EIBENCH_DATASET=" in done.stderr
    assert f"--output {missing}" in done.stderr and "Traceback" not in done.stderr


def test_score_names_the_real_cause_of_a_bad_answers_file(tmp_path, official_records, official_dir):
    """Issue 26: a one-line results file, one key repeated, an unknown key, paths of both subsets, all without
    --subset (the file's subset is then read from its image paths)."""
    basic, complex_ = official_records.basic, official_records.complex
    results = tmp_path / "20261202_050000_results.json"
    results.write_text(json.dumps({"results": {"eibench_basic": {}}, "configs": {}}) + "\n")
    repeated = tmp_path / "repeated.jsonl"
    repeated.write_text("".join(json.dumps({basic[3].image_path: f"answer {i}"}) + "\n" for i in range(20)))
    unknown = tmp_path / "unknown.jsonl"
    lines = [{r.image_path: "x"} for r in basic[:4]]
    lines.insert(2, {"EmoSet-118k/image/joy/joy_99999.jpg": "x"})
    unknown.write_text("".join(json.dumps(line) + "\n" for line in lines))
    mixed = tmp_path / "mixed.jsonl"
    only_complex = next(r for r in complex_ if r.image_path not in {b.image_path for b in basic})
    only_basic = next(r for r in basic if r.image_path not in {c.image_path for c in complex_})
    mixed.write_text(json.dumps({only_basic.image_path: "x"}) + "\n" + json.dumps({only_complex.image_path: "y"})
                     + "\n")
    expected = {
        results: [f"{results}: this is an lmms-eval results file", "eibench report"],
        repeated: [f"{repeated}:2: {basic[3].image_path!r} appears again; basic has one question per image"],
        unknown: [f"{unknown}:3: image path 'EmoSet-118k/image/joy/joy_99999.jpg' is in neither"],
        mixed: [f"the file mixes basic ({mixed}:1) and complex ({mixed}:2) image paths"],
    }
    for path, messages in expected.items():
        done = run("score", str(path), "--annotations", str(official_dir), "--no-cache")
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "cannot tell which subset" not in done.stderr, done.stderr
        for message in messages:
            assert message in done.stderr, done.stderr
