"""No command writes over a file it reads (issue 31), files found inside an input folder or beside an input file
included: report -o / --summary / --chart (a results folder), report --paired -o (the samples beside a results
file), score -o (the results beside lmms-eval samples, the reply cache, the annotations folder), captions -o,
view -o (a run folder, the samples beside a results file). Each is refused with exit 2 and the path named, before
any judge request, and the file it would have replaced is byte-identical afterwards. Runs are real: lmms-eval's
`dummy` model with --log_samples; the judge is the loopback one on 127.0.0.1. (`eibench coherence` and
`judge-check` write no file.)"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from judge_server import FakeJudgeConfig, judge_server
from test_lmms_e2e import run_lmms

from lmms_eval_eibench.cli import main
from lmms_eval_eibench.commands.captions import CAPTION_METRIC
from lmms_eval_eibench.data.records import load_records
from lmms_eval_eibench.data.sample import SAMPLE_DIR
from lmms_eval_eibench.judges.cache import CACHE_FILE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def out(sample_dataset_dir, tmp_path_factory) -> Path:
    """An lmms-eval output folder: results and samples of eibench_basic (dummy model, embedding judge)."""
    folder = tmp_path_factory.mktemp("no-overwrite") / "OUT"
    run_lmms("eibench_basic", folder, {"EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_JUDGE": "embedding",
                                       "EIBENCH_CACHE_DIR": str(folder.parent / "cache")}, "--log_samples",
             model_args="response=A friend telling a joke")
    return folder


def results_file(out: Path) -> Path:
    [path] = out.rglob("*_results.json")
    return path


def samples_file(out: Path) -> Path:
    [path] = out.rglob("*_samples_eibench_basic.jsonl")
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused(argv: list[str], target: Path, capsys, said: str) -> str:
    """Run ``eibench ARGV``: exit 2, ``target`` named with ``said``, no traceback, ``target`` byte-identical."""
    before = digest(target)
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, (argv, captured.err)
    assert str(target) in captured.err and said in captured.err, captured.err
    assert "Traceback" not in captured.err
    assert digest(target) == before, f"{target} was written over"
    return captured.err


@pytest.mark.parametrize("option", ["-o", "--summary", "--chart"])
def test_report_never_writes_over_a_results_file_found_in_its_input_folder(out, option, capsys):
    target = results_file(out)
    refused(["report", str(out), option, str(target)], target, capsys, "is the input file (it would be overwritten)")


def test_report_paired_never_writes_over_the_samples_beside_a_results_file(out, tmp_path, capsys):
    other = tmp_path / "B"
    shutil.copytree(out, other)
    target = samples_file(out)
    refused(["report", "--paired", str(results_file(out)), str(results_file(other)), "-o", str(target)], target,
            capsys, "is the input file")


def test_view_never_writes_over_a_file_of_its_run(out, capsys):
    for run, target in ((out, samples_file(out)), (out, results_file(out)),  # files found in the run folder
                        (results_file(out), samples_file(out)),  # the samples beside a results file
                        (samples_file(out), results_file(out))):  # the results beside a samples file
        refused(["view", str(run), "-o", str(target)], target, capsys, "is the input file")


def test_score_never_writes_over_the_results_beside_its_samples(out, sample_dataset_dir, capsys):
    target = results_file(out)
    refused(["score", str(samples_file(out)), "--judge", "embedding", "--dataset", str(sample_dataset_dir),
             "--no-cache", "-o", str(target)], target, capsys, "is the input file")


def test_score_never_writes_over_the_reply_cache_or_into_the_annotations(tmp_path, capsys, monkeypatch):
    basic = load_records(SAMPLE_DIR).subset("basic")
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({r.id: r.ground_truth}) + "\n" for r in basic))
    annotations = tmp_path / "EIBench"
    shutil.copytree(SAMPLE_DIR, annotations)
    cache = tmp_path / "cache"
    with judge_server(FakeJudgeConfig()) as judge:
        argv = ["score", str(answers), "--subset", "basic", "--annotations", str(annotations), "--base-url",
                judge.base_url, "--judge-model", judge.model, "--cache-dir", str(cache), "--no-progress"]
        monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", judge.api_key)
        assert main(argv) == 0, capsys.readouterr().err
        capsys.readouterr()
        sent = judge.stats.chat_requests
        assert sent == len(basic)
        refused([*argv, "-o", str(cache / CACHE_FILE)], cache / CACHE_FILE, capsys, "is the input file")
        user = annotations / "EI_Basic" / "user.jsonl"
        refused([*argv, "-o", str(user)], user, capsys, f"is a file inside the input folder {annotations}")
        assert judge.stats.chat_requests == sent  # refused before any request
        assert main(argv) == 0  # the cache is whole: every verdict from it
        assert judge.stats.chat_requests == sent


def test_captions_never_writes_over_one_of_its_samples_files(tmp_path, capsys):
    first, second = tmp_path / "s1.jsonl", tmp_path / "s2.jsonl"
    first.write_text(json.dumps({CAPTION_METRIC: {"image_path": "a.png", "caption": "A cat."}}) + "\n")
    second.write_text(json.dumps({CAPTION_METRIC: {"image_path": "b.png", "caption": "A dog."}}) + "\n")
    refused(["captions", str(first), str(second), "-o", str(second)], second, capsys, "is the input file")
