"""Issue 33: what a new user meets after real runs, through the real `lmms-eval` runner (`--model dummy`) and the
real `eibench` console script, offline, judged by tests/judge_server.py on 127.0.0.1. Every message says what the
file is and what to do; every row is told apart; a run with no verdict shows no recall; one model has one name;
a CI job following the README fails when EIBench stops a run; the README's output layout is what lmms-eval writes."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from judge_server import FakeJudgeConfig, judge_server

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
EIBENCH = str(BIN / "eibench")
LMMS_EVAL = str(BIN / "lmms-eval")
README = Path(__file__).resolve().parents[1] / "README.md"
CHECKPOINT = "models/ckpt/tiny-llava"  # a checkpoint path: lmms-eval names the model by its last two parts
KEYS = ("EIBENCH_JUDGE", "EIBENCH_JUDGE_BASE_URL", "EIBENCH_JUDGE_API_KEY", "OPENAI_API_KEY", "EIBENCH_JUDGE_MODEL",
        "EIBENCH_JUDGE_PROTOCOL", "EIBENCH_JUDGE_PROMPT")


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment (PYTHONPATH kept: this tree's code) without any judge setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **extra)
    return env


def eibench(*args: object, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([EIBENCH, *map(str, args)], env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def lmms_eval(out: Path, env: dict[str, str], *extra: str, tasks: str = "eibench_basic") -> subprocess.CompletedProcess:
    """`lmms-eval --model dummy ... --log_samples`, as the README's commands run it."""
    command = [LMMS_EVAL, "--model", "dummy", "--tasks", tasks, "--limit", "4", "--log_samples",
               "--output_path", str(out), *extra]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=out.parent, check=False)


def finished(done: subprocess.CompletedProcess, out: Path) -> None:
    # lmms-eval exits 0 on failure (that is point 6): the results file is the proof
    assert list(out.rglob("*_results.json")), f"no results (exit {done.returncode}):\n{done.stdout[-3000:]}"


@pytest.fixture(scope="module")
def judge():
    with judge_server(FakeJudgeConfig()) as server:
        yield server


@pytest.fixture(scope="module")
def runs(sample_dataset_dir, judge, tmp_path_factory) -> dict[str, Path]:
    """Three real runs on the embedded sample, judged on 127.0.0.1: ``dummy`` twice into one folder (``twice/``),
    and the dummy model named by a checkpoint path (``ckpt/``, with the eibench_captions task too)."""
    root = tmp_path_factory.mktemp("newcomer")
    env = clean_env(EIBENCH_DATASET=str(sample_dataset_dir), EIBENCH_CACHE_DIR=str(root / "verdicts"),
                    EIBENCH_JUDGE="openai", EIBENCH_JUDGE_BASE_URL=judge.base_url,
                    EIBENCH_JUDGE_API_KEY=judge.api_key, EIBENCH_JUDGE_MODEL=judge.model)
    for _ in range(2):
        finished(lmms_eval(root / "twice", env), root / "twice")
    checkpoint = root / CHECKPOINT
    finished(lmms_eval(root / "ckpt", env, "--model_args", f"pretrained={checkpoint}",
                       tasks="eibench_basic,eibench_captions"), root / "ckpt")
    return {"root": root, "twice": root / "twice", "ckpt": root / "ckpt", "dataset": sample_dataset_dir}


def only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.rglob(pattern))
    assert len(found) == 1, (pattern, found)
    return found[0]


# -- point 1: captions come from the eibench_captions task only -------------------------------------------------

def test_captions_refuses_answers_naming_the_task_found_and_writes_nothing(runs, tmp_path):
    env = clean_env()
    basic = only(runs["ckpt"], "*_samples_eibench_basic.jsonl")
    out = tmp_path / "caps.jsonl"
    done = eibench("captions", basic, "-o", out, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "wrote" not in done.stdout and not out.exists()
    assert "the samples of task 'eibench_basic'" in done.stderr and "not of eibench_captions" in done.stderr
    assert "--tasks eibench_captions" in done.stderr and "Traceback" not in done.stderr
    # renamed, the file is still told apart by its lines (judged answers), not by its name
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_bytes(basic.read_bytes())
    done = eibench("captions", renamed, "-o", out, env=env)
    assert done.returncode == 2 and not out.exists()
    assert f"{renamed}:1" in done.stderr and "a judged EIBench answer" in done.stderr, done.stderr
    # the captions task's own samples still make a captions file
    captions = only(runs["ckpt"], "*_samples_eibench_captions.jsonl")
    done = eibench("captions", captions, "-o", out, env=env)
    assert done.returncode == 0 and done.stdout.startswith("wrote ") and out.is_file(), done.stderr


# -- point 2: a run the judge failed on entirely has no recall, and says so in every format ---------------------

def test_a_run_with_no_verdict_shows_no_recall_and_a_warning_in_every_format(runs, tmp_path):
    samples = max(runs["twice"].glob("*_samples_eibench_basic.jsonl"))
    with judge_server(FakeJudgeConfig(garbage=1.0)) as broken:  # every reply unparseable
        env = clean_env(EIBENCH_DATASET=str(runs["dataset"]), EIBENCH_JUDGE="openai",
                        EIBENCH_JUDGE_BASE_URL=broken.base_url, EIBENCH_JUDGE_API_KEY=broken.api_key,
                        EIBENCH_JUDGE_MODEL=broken.model, EIBENCH_NO_CACHE="1")
        done = eibench("score", samples, "--json", "--allow-partial", "--no-progress", env=env)
    assert done.returncode == 3, done.stderr  # scored, but the judge failed on samples
    score = tmp_path / "score.json"
    score.write_text(done.stdout)
    assert json.loads(done.stdout)["n_failed"] == 4
    env = clean_env(EIBENCH_DATASET=str(runs["dataset"]))
    summary = tmp_path / "summary.json"
    outputs = {}
    for fmt in ("markdown", "csv", "latex"):
        done = eibench("report", score, "--format", fmt, *(["--summary", summary] if fmt == "csv" else []), env=env)
        assert done.returncode == 0, done.stderr
        outputs[fmt] = done.stdout
        assert "judge failed on 4 of 4 samples: no verdict at all, so no recall is shown" in done.stderr
    markdown = next(line for line in outputs["markdown"].splitlines() if line.startswith("| dummy |"))
    assert "0.00" not in markdown and "— (no verdict: judge failed on 4" in markdown, markdown
    assert "> **Warning:** judge failures" in outputs["markdown"] and "no verdict at all" in outputs["markdown"]
    row = next(csv.DictReader(io.StringIO(outputs["csv"])))
    assert row["overall"] == "" and row["overall_stderr"] == "" and row["angry"] == "", row
    assert "no verdict: judge failed on 4" in row["note"]
    latex = next(line for line in outputs["latex"].splitlines() if line.startswith("dummy &"))
    assert "0.00" not in latex and "no verdict" in latex, latex
    assert "% WARNING: judge failures" in outputs["latex"] and "no verdict at all" in outputs["latex"]
    entry = json.loads(summary.read_text())["entries"][0]
    assert entry["basic"]["no_verdict"] is True and entry["basic"]["recall"]["value"] is None
    assert all(value["value"] is None for value in entry["basic"]["categories"].values())
    assert any("no verdict at all" in w for w in json.loads(summary.read_text())["warnings"])


# -- point 3: two runs in one folder are two rows told apart, and the report says they are one model ------------

def test_two_runs_in_one_folder_are_told_apart_by_their_timestamp(runs, tmp_path):
    results = sorted(runs["twice"].glob("*_results.json"))
    assert len(results) == 2
    stamps = [path.name.split("_results")[0] for path in results]
    summary = tmp_path / "summary.json"
    done = eibench("report", runs["twice"], "--summary", summary, env=clean_env())
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| dummy |")]
    assert len(rows) == 2 and rows[0] != rows[1], done.stdout
    assert sorted(row.split(" | ")[3] for row in rows) == [f"run {stamp}" for stamp in stamps]
    warning = [line for line in done.stderr.splitlines() if "rows are the same model" in line]
    assert len(warning) == 1 and "2 rows are the same model 'dummy'" in warning[0], done.stderr
    assert all(stamp in warning[0] for stamp in stamps)
    entries = json.loads(summary.read_text())["entries"]
    assert sorted(entry["run"] for entry in entries) == stamps
    # one run alone is one plain row
    done = eibench("report", results[0], env=clean_env())
    assert done.returncode == 0 and "| run |" in done.stdout and "same model" not in done.stderr


# -- point 4: one model, one name, in lmms-eval rows and `eibench score --json` rows ------------------------------

def test_one_model_has_one_name_in_lmms_eval_and_score_rows(runs, judge, tmp_path):
    results = json.loads(only(runs["ckpt"], "*_results.json").read_text())
    assert results["model_name"] == str(runs["root"] / CHECKPOINT)  # what lmms-eval records: the whole path
    samples = only(runs["ckpt"], "*_samples_eibench_basic.jsonl")
    env = clean_env(EIBENCH_DATASET=str(runs["dataset"]), EIBENCH_JUDGE="openai", EIBENCH_JUDGE_BASE_URL=judge.base_url,
                    EIBENCH_JUDGE_API_KEY=judge.api_key, EIBENCH_JUDGE_MODEL=judge.model,
                    EIBENCH_CACHE_DIR=str(runs["root"] / "verdicts"))
    done = eibench("score", samples, "--json", "--allow-partial", "--no-progress", "--prompt", "structured", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model"] == "ckpt/tiny-llava"
    score = tmp_path / "score.json"
    score.write_text(done.stdout)
    done = eibench("report", runs["ckpt"], score, "--format", "csv", env=clean_env())
    assert done.returncode == 0, done.stderr
    models = [row["model"] for row in csv.DictReader(io.StringIO(done.stdout))]
    assert models == ["ckpt/tiny-llava", "ckpt/tiny-llava"], done.stdout  # the paper prompt's row, the structured one
    assert "DIR" not in done.stdout and "__" not in done.stdout and str(runs["root"]) not in done.stdout


# -- point 5: every message says what the file is and what to do -------------------------------------------------

def test_score_on_captions_samples_says_they_are_captions(runs):
    captions = only(runs["ckpt"], "*_samples_eibench_captions.jsonl")
    done = eibench("score", captions, "--allow-partial", env=clean_env(EIBENCH_DATASET=str(runs["dataset"])))
    assert done.returncode == 2, done.stderr
    assert "the samples of the eibench_captions task: image descriptions" in done.stderr
    assert f"eibench captions {captions} -o captions.jsonl" in done.stderr
    assert "not an EIBench task" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [("coherence",), ("captions", "-o", "caps.jsonl")])
def test_coherence_and_captions_name_a_results_file(runs, tmp_path, command):
    results = only(runs["ckpt"], "*_results.json")
    done = subprocess.run([EIBENCH, command[0], str(results), *command[1:]], cwd=tmp_path, env=clean_env(),
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 2, done.stderr
    assert "this is an lmms-eval results file (a run's metrics)" in done.stderr and str(results) in done.stderr
    assert "malformed JSON" not in done.stderr and "Expecting property name" not in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "caps.jsonl").exists()


def test_report_names_official_answers_and_judged_samples(runs, tmp_path):
    answers = tmp_path / "ANSWERS.jsonl"
    answers.write_text(json.dumps({"CAER-S/train/Angry/0006.png": "a clenched fist"}) + "\n")
    done = eibench("report", answers, env=clean_env())
    assert done.returncode == 2, done.stderr
    assert "answers in the official format" in done.stderr and f"eibench score {answers}" in done.stderr
    assert "lmms-eval samples file" not in done.stderr
    samples = only(runs["ckpt"], "*_samples_eibench_basic.jsonl")
    done = eibench("report", samples, env=clean_env())
    assert done.returncode == 2, done.stderr
    assert "an lmms-eval samples file already judged" in done.stderr
    assert f"eibench report {only(runs['ckpt'], '*_results.json')}" in done.stderr
    assert "judge it first" not in done.stderr and "judge its samples first" not in done.stderr


def test_with_blind_without_a_key_says_no_key_is_set(runs, judge):
    env = clean_env(EIBENCH_DATASET=str(runs["dataset"]), EIBENCH_JUDGE_BASE_URL=judge.base_url, EIBENCH_NO_CACHE="1")
    requests = judge.stats.chat_requests
    done = eibench("report", runs["ckpt"], "--with-blind", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--with-blind: no API key is set for the judge" in done.stderr and "EIBENCH_JUDGE_API_KEY" in done.stderr
    assert "HTTP 401" not in done.stderr and "rejected" not in done.stderr and "Traceback" not in done.stderr
    assert judge.stats.chat_requests == requests  # nothing sent
    # with the key, the floor is scored by the same judge
    done = eibench("report", runs["ckpt"], "--with-blind", env={**env, "EIBENCH_JUDGE_API_KEY": judge.api_key})
    assert done.returncode == 0 and "blind" in done.stdout, done.stderr


# -- point 6: the README's CI recipe fails when EIBench stops a run ----------------------------------------------

def _ci_recipe() -> tuple[int, list[str]]:
    """The README's commands for a CI job (the ```bash block after "make a CI job fail"), one per line, and the
    README line the block starts on."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"make\s+a\s+CI\s+job\s+fail.*?```bash\n(.*?)```", text, re.DOTALL)
    assert match, "README.md: the CI recipe (a ```bash block after 'make a CI job fail') is gone"
    lines = [line.split("#", 1)[0].strip() for line in match.group(1).replace("\\\n", " ").splitlines()]
    return text[:match.start(1)].count("\n") + 1, [line for line in lines if line]


def _with_dummy(line: str) -> str:
    """A README lmms-eval line with the dummy model (no checkpoint on this machine)."""
    return re.sub(r"--model\s+\S+(\s+--model_args\s+\S+)?", "--model dummy", line, count=1)


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def test_the_readme_ci_recipe_fails_when_eibench_stops_the_run(sample_dataset_dir, tmp_path):
    """No judge key: EIBench stops the run before generation. lmms-eval alone exits 0; the README's recipe fails."""
    line, recipe = _ci_recipe()
    lmms = next((c for c in recipe if c.startswith("lmms-eval ")), None)
    report = next((c for c in recipe if c.startswith("eibench report ")), None)
    assert lmms and report, f"README.md line {line}: the CI recipe lost its lmms-eval or eibench report line"
    assert "--verbosity DEBUG" in lmms, f"README.md line {line}: the CI recipe's lmms-eval line lost --verbosity DEBUG"
    env = clean_env(EIBENCH_DATASET=str(sample_dataset_dir), PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    # the whole recipe, as a CI job runs it (stop at the first failing command)
    script = "set -e\n" + "\n".join(_with_dummy(c) for c in recipe) + "\necho RECIPE-PASSED\n"
    done = _bash(script, tmp_path, env)
    assert done.returncode != 0 and "RECIPE-PASSED" not in done.stdout, done.stdout[-2000:]
    assert "no API key" in done.stderr, done.stderr[-2000:]
    # why the flag: without it lmms-eval logs the stop and exits 0
    bare = _with_dummy(lmms).replace("--verbosity DEBUG", "")
    done = _bash(bare, tmp_path, env)
    assert done.returncode == 0 and "no API key" in done.stdout + done.stderr, done.stdout[-2000:]
    assert not list(tmp_path.rglob("*_results.json"))
    # the second guard alone: no results under the output folder, `eibench report` exits 2
    done = _bash(report, tmp_path, env)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "no such file or folder" in done.stderr or "no EIBench results" in done.stderr, done.stderr


# -- point 7: the README's output layout is what lmms-eval writes ------------------------------------------------

def test_the_readme_output_layout_is_what_lmms_eval_writes(runs):
    text = README.read_text(encoding="utf-8")
    words = r"lmms-eval writes `(OUT/[^`]+)` for a checkpoint path or Hub id.*?`(OUT/[^`]+)` for `--model dummy`"
    sentence = re.search(words.replace(" ", r"\s+"), text, re.DOTALL)
    assert sentence, "README.md: the sentence on lmms-eval's output layout ('lmms-eval writes `OUT/...` for a " \
                     "checkpoint path or Hub id ... `OUT/...` for `--model dummy`') drifted or is gone"
    named, unnamed = sentence.group(1), sentence.group(2)
    line = text[:sentence.start()].count("\n") + 1

    def pattern(layout: str) -> re.Pattern[str]:
        regex = re.escape(layout).replace(re.escape("<model>"), r"(?P<model>[^/]+)")
        regex = regex.replace(re.escape("<time>"), r"\d{8}_\d{6}").replace(re.escape("<task>"), r"eibench_\w+")
        return re.compile("^" + regex.replace("OUT/", "", 1) + "$")

    for folder, layout in ((runs["ckpt"], named), (runs["twice"], unnamed)):
        files = [p.relative_to(folder).as_posix() for p in folder.rglob("*_samples_*.jsonl")]
        assert files and all(pattern(layout).match(f) for f in files), \
            f"README.md line {line}: {layout} is not what lmms-eval wrote: {files}"
    model = pattern(named).match(next(p.relative_to(runs["ckpt"]).as_posix()
                                      for p in runs["ckpt"].rglob("*_samples_*.jsonl"))).group("model")
    assert model == "ckpt__tiny-llava"
