"""Nothing lost, nothing misleading (issue 21): every fix the CLI prints for a wrong --dataset/--output, followed
as written on a copy of the annotations, keeps the copy; --overwrite replaces only an EIBench build or an empty
folder; outputs follow the umask; output-path mistakes and other benchmarks' samples exit 2 with a message."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lmms_eval_eibench.data.sample import SAMPLE_DIR

BIN = Path(sys.executable).parent
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*args], capture_output=True, text=True, timeout=300, check=False, env=ENV, cwd=cwd)


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def clone(tmp_path) -> Path:
    """A copy of the EIBench repository's layout: EIBench/EI_Basic, EIBench/EI_Complex, a README and a LICENSE."""
    root = tmp_path / "EIBench"
    shutil.copytree(SAMPLE_DIR / "EI_Basic", root / "EIBench" / "EI_Basic")
    shutil.copytree(SAMPLE_DIR / "EI_Complex", root / "EIBench" / "EI_Complex")
    (root / "human_eval").mkdir()
    (root / "human_eval" / "notes.txt").write_text("ours\n")
    (root / "README.md").write_text("# EIBench\n")
    (root / "LICENSE").write_text("Apache-2.0\n")
    return root


def hub_upload(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run(str(BIN / "python"), str(Path(__file__).parents[1] / "hub_upload.py"), *args, cwd=cwd)


def test_overwrite_never_replaces_the_annotation_clone(clone):
    before = snapshot(clone)
    for output in (clone, clone / "EIBench", clone / "EIBench" / "EI_Basic"):
        done = hub_upload("--eibench", str(clone), "--no-images", "--output", str(output), "--overwrite",
                          cwd=clone.parent)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "annotations" in done.stderr and "--output" in done.stderr
    assert snapshot(clone) == before
    other = clone.parent / "results"  # somebody else's folder, not a build
    other.mkdir()
    (other / "run1.json").write_text("{}")
    done = hub_upload("--no-images", "--output", str(other), "--overwrite", cwd=clone.parent)
    assert done.returncode == 2 and "run1.json" in done.stderr and "not an EIBench build" in done.stderr
    assert (other / "run1.json").read_text() == "{}"


def test_overwrite_replaces_a_build_or_an_empty_folder(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert hub_upload("--no-images", "--output", str(empty), cwd=tmp_path).returncode == 2  # exists: needs the flag
    done = hub_upload("--no-images", "--output", str(empty), "--overwrite", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (empty / "manifest.json").is_file()
    done = hub_upload("--no-images", "--output", str(empty), "--overwrite", cwd=tmp_path)  # now a build
    assert done.returncode == 0, done.stderr


def test_every_fix_for_a_wrong_dataset_keeps_the_clone(clone, tmp_path):
    """Score against the clone (and against a folder that is not a build), follow each `hub_upload.py` command
    the message advises, as written, and check that the clone is whole and the advised build works."""
    before = snapshot(clone)
    answers = tmp_path / "answers.jsonl"
    answers.write_text(json.dumps({"EmoSet-118k/image/amusement/amusement_00001.jpg": "x"}) + "\n")
    done = run(str(BIN / "eibench"), "score", str(answers), "--subset", "basic", "--judge", "embedding",
               "--no-cache", "--dataset", str(clone), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "--overwrite" not in done.stderr, done.stderr
    commands = re.findall(r"`(python hub_upload\.py [^`]*)`", done.stderr)
    assert commands, done.stderr
    for command in commands:
        argv = shlex.split(command.replace("EIBENCH_DIR", str(clone)).replace("--image-root IMAGES", "--no-images"))
        followed = hub_upload(*argv[2:], cwd=tmp_path)
        assert snapshot(clone) == before, command
        assert followed.returncode == 0, (command, followed.stderr)
        output = Path(argv[argv.index("--output") + 1])
        assert (output / "manifest.json").is_file() and output != clone


def test_outputs_follow_the_umask(tmp_path):
    """Every writer goes through files.atomic_path: its files are 0644 under umask 022, 0600 under 077."""
    from lmms_eval_eibench.files import write_text_atomic

    old = os.umask(0o022)
    try:
        assert stat.S_IMODE(write_text_atomic(tmp_path / "a.txt", "x").stat().st_mode) == 0o644
        os.umask(0o077)
        assert stat.S_IMODE(write_text_atomic(tmp_path / "b.txt", "x").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def _umask_022() -> None:
    os.umask(0o022)


def test_every_command_writes_0644_and_refuses_a_non_folder_path(tmp_path):
    """report -o/--chart/--summary and captions -o under umask 022: files 0644; into a path under a file, or a
    read-only folder: exit 2, the option named, no traceback (score -o: tests/test_cli_score.py)."""
    from lmms_eval_eibench.commands.captions import CAPTION_METRIC

    eibench = str(BIN / "eibench")
    table, chart, summary = tmp_path / "t.md", tmp_path / "c.png", tmp_path / "s.json"
    done = subprocess.run([eibench, "report", "--with-paper", "-o", str(table), "--chart", str(chart),
                           "--summary", str(summary)], capture_output=True, text=True, env=ENV,
                          preexec_fn=_umask_022, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({CAPTION_METRIC: {"image_path": "a.png", "caption": "A cat."}}) + "\n")
    captions = tmp_path / "captions.jsonl"
    done = subprocess.run([eibench, "captions", str(samples), "-o", str(captions)], capture_output=True, text=True,
                          env=ENV, preexec_fn=_umask_022, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    for path in (table, chart, summary, captions):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path

    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    for option in ("-o", "--chart", "--summary"):
        done = run(eibench, "report", "--with-paper", option, str(blocked / "out.png"))
        assert done.returncode == 2 and "Traceback" not in done.stderr and "not a folder" in done.stderr, done.stderr
    done = run(eibench, "captions", str(samples), "-o", str(blocked / "c.jsonl"))
    assert done.returncode == 2 and "Traceback" not in done.stderr and "not a folder" in done.stderr, done.stderr
    done = hub_upload("--no-images", "--output", str(blocked / "ds"), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "is a file" in done.stderr, done.stderr
    if os.geteuid() != 0:  # root writes anywhere
        readonly = tmp_path / "ro"
        readonly.mkdir(mode=0o555)
        done = run(eibench, "report", "--with-paper", "-o", str(readonly / "t.md"))
        assert done.returncode == 2 and "cannot be written" in done.stderr and "Traceback" not in done.stderr
        done = hub_upload("--no-images", "--output", str(readonly / "ds"), cwd=tmp_path)
        assert done.returncode == 2 and "not writable" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("name, line, said", [
    ("20261202_050000_samples_mmmu_val.jsonl", {"doc_id": 0, "filtered_resps": ["A"]}, "'mmmu_val', not an EIBench"),
    ("answers.jsonl", {"doc_id": 0, "task_name": "mme", "filtered_resps": ["A"]}, "'mme' is not an EIBench task"),
    ("answers.jsonl", {"doc_id": 0, "doc": {"question": "q", "answer": "B"}, "filtered_resps": ["A"]},
     "another benchmark's sample"),
])
def test_another_benchmarks_samples_are_refused_even_with_subset_and_allow_partial(tmp_path, sample_dataset_dir,
                                                                                   name, line, said):
    samples = tmp_path / name
    samples.write_text(json.dumps(line) + "\n")
    done = run(str(BIN / "eibench"), "score", str(samples), "--subset", "basic", "--allow-partial", "--judge",
               "embedding", "--no-cache", "--dataset", str(sample_dataset_dir))
    assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_ctrl_c_while_judging_says_what_is_saved_and_a_rerun_resumes(tmp_path):
    """A real SIGINT to `eibench score` judging against the loopback judge: exit 130, no traceback, the count of
    saved verdicts; the rerun sends only the rest."""
    import signal
    import time

    sys.path.insert(0, str(Path(__file__).parent))
    from judge_server import FakeJudgeConfig, judge_server

    from lmms_eval_eibench.data.records import load_records

    basic = load_records(SAMPLE_DIR).subset("basic")
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({r.id: r.ground_truth}) + "\n" for r in basic))
    # 1 s per reply: after the third, five more seconds of judging remain for the signal to land in, even when a
    # loaded machine delays this loop (with 0.5 s, a full CI run once saw the whole file judged first)
    with judge_server(FakeJudgeConfig(latency=1.0)) as judge:
        argv = [str(BIN / "eibench"), "score", str(answers), "--subset", "basic", "--annotations", str(SAMPLE_DIR),
                "--base-url", judge.base_url, "--judge-model", judge.model, "--cache-dir", str(tmp_path / "cache"),
                "--concurrency", "1", "--no-progress"]
        env = {**ENV, "EIBENCH_JUDGE_API_KEY": judge.api_key}
        # SIGINT's default in the child: a child inherits an ignored SIGINT, and something earlier in a full run
        # leaves this test process ignoring it (Python then installs no KeyboardInterrupt handler at all)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 120
        # one request at a time, each verdict cached before the next request: a third answered request means the
        # first two verdicts are saved (waiting for two raced the second one's cache write)
        while len(judge.stats.prompts_answered) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130 and "Traceback" not in err, err
        saved = int(re.search(r"(\d+) of (\d+) verdicts are saved", err).group(1))
        assert 2 <= saved < len(basic) and "run the same command again to resume" in err, err
        sent = judge.stats.chat_requests
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert judge.stats.chat_requests - sent == len(basic) - saved


def test_a_mistyped_hub_repo_offline_names_the_repo_and_the_offline_setting(tmp_path):
    answers = tmp_path / "a.jsonl"
    answers.write_text(json.dumps({"CAER-S/train/Angry/0006.png": "x"}) + "\n")
    done = run(str(BIN / "eibench"), "score", str(answers), "--subset", "basic", "--judge", "embedding",
               "--no-cache", "--dataset", "nosuch-org/eibench-typo", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "'nosuch-org/eibench-typo'" in done.stderr and "HF_HUB_OFFLINE=1" in done.stderr, done.stderr


def _run_copy(tmp_path: Path, name: str, model: str, protocol: bool = True) -> Path:
    """The GPT-judged report fixture, as a run of lmms-eval model ``model`` (e.g. eibench_cfsa)."""
    fixture = next((Path(__file__).parent / "fixtures" / "report" / "run_gpt").rglob("*_results.json"))
    data = json.loads(fixture.read_text())
    data["config"]["model"] = model
    data["model_name"] = "tiny-llava"
    if protocol:
        for task in ("eibench_basic", "eibench_complex"):
            data["configs"][task]["metadata"]["eibench_provenance"]["judge"].update(
                options={"trust_judge_total": True}, protocol="paper-gpt")
    path = tmp_path / name / "results.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data))
    return path


def test_cfsa_runs_have_their_own_rows_beside_the_published_cfsa_row(tmp_path):
    cfsa = _run_copy(tmp_path, "out_cfsa", "eibench_cfsa")
    plain = _run_copy(tmp_path, "out_plain", "llava_hf")
    done = run(str(BIN / "eibench"), "report", str(cfsa.parent), str(plain.parent))
    assert done.returncode == 0, done.stderr
    rows = [line.split(" | ")[:2] for line in done.stdout.splitlines() if line.startswith("| tiny-llava")]
    assert sorted(r[1] for r in rows) == ["cfsa", "user"], done.stdout
    done = run(str(BIN / "eibench"), "report", str(cfsa.parent), str(plain.parent), "--with-paper",
               "--paper-setting", "cfsa", "--paper-judge", "gpt")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    at = next(i for i, line in enumerate(lines) if line.startswith("| tiny-llava | cfsa"))
    assert lines[at + 1].startswith("| CFSA (LLaVA-NEXT (34B)) | cfsa"), done.stdout


def test_judge_check_dry_run_without_a_key_says_so(tmp_path):
    env = {k: v for k, v in ENV.items() if k not in ("EIBENCH_JUDGE_API_KEY", "OPENAI_API_KEY",
                                                      "EIBENCH_JUDGE_BASE_URL")}
    done = subprocess.run([str(BIN / "eibench"), "judge-check", "--dry-run", "--annotations", str(SAMPLE_DIR),
                           "--judge-model", "gpt-4o-mini", "--cache-dir", str(tmp_path / "c"), "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 1 and "no API key" in done.stderr and "EIBENCH_JUDGE_API_KEY" in done.stderr, done.stderr


def _shell_commands(markdown: Path) -> list[str]:
    """The commands of every ```bash block, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", markdown.read_text(), flags=re.S):
        for command in re.sub(r"\\\n\s*", " ", block).splitlines():
            command = command.split(" #", 1)[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def test_every_cfsa_doc_command_the_cpu_allows_runs(tmp_path, sample_dataset_dir):
    """docs/cfsa.md's shell blocks: the ones needing no downloaded weights and no network (base=dummy) run as
    written (lmms-eval from this venv, the embedded sample as the dataset); the rest are skipped by name."""
    commands = _shell_commands(Path(__file__).parents[1] / "docs" / "cfsa.md")
    runnable = [c for c in commands if c.startswith("lmms-eval ") and "base=dummy" in c and "cfsa_summarizer" not in c]
    assert runnable, commands
    for command in runnable:
        argv = shlex.split(command)
        done = subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, cwd=tmp_path,
                              env={**ENV, "EIBENCH_DATASET": str(sample_dataset_dir)}, timeout=600, check=False)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (command, done.stderr[-3000:])
        if "--output_path" in argv:
            out = tmp_path / argv[argv.index("--output_path") + 1]
            assert list(out.rglob("*_samples_eibench_basic.jsonl")), command


def test_score_of_cfsa_samples_says_cfsa_and_the_report_keeps_it_apart(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from judge_server import judge_server

    from lmms_eval_eibench.data.records import load_records

    basic = load_records(SAMPLE_DIR).subset("basic")
    outputs = {}
    for name, cfsa in (("cfsa", True), ("plain", False)):
        samples = tmp_path / name / "20261202_050000_samples_eibench_basic.jsonl"
        samples.parent.mkdir()
        samples.write_text("".join(json.dumps({
            "doc_id": i, "doc": {"id": r.id}, "filtered_resps": [r.ground_truth],
            "input": {"prompt": "Why?", "cfsa": [{"status": "ok"}]} if cfsa else "Why?"}) + "\n"
            for i, r in enumerate(basic)))
        with judge_server() as judge:
            done = subprocess.run(
                [str(BIN / "eibench"), "score", str(samples), "--annotations", str(SAMPLE_DIR), "--json",
                 "--base-url", judge.base_url, "--judge-model", judge.model, "--no-cache", "--no-progress"],
                capture_output=True, text=True, env={**ENV, "EIBENCH_JUDGE_API_KEY": judge.api_key}, timeout=120,
                check=False)
        assert done.returncode == 0, done.stderr
        outputs[name] = tmp_path / f"{name}.json"
        outputs[name].write_text(done.stdout)
        assert (json.loads(done.stdout).get("method") == "cfsa") is cfsa
    done = run(str(BIN / "eibench"), "report", str(outputs["cfsa"]), str(outputs["plain"]))
    templates = sorted(line.split(" | ")[1] for line in done.stdout.splitlines() if line.startswith("| ")
                       and not line.startswith("| Model") and not line.startswith("|---"))
    assert done.returncode == 0 and templates == ["cfsa", "user"], done.stdout + done.stderr
