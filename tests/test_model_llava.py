"""lmms-eval's own `llava` model (checkpoints in the original LLaVA layout) on EIBench, in the LLaVA-NeXT environment.

`lmms-eval --model llava --tasks eibench_complex` needs LLaVA-NeXT's `llava` package, which works with transformers
>=4.39.2,<4.56 only, so it runs in a second environment beside `.venv` (README, "`--model llava`"): `make
setup-llava` builds it as the README tells users to (the plugin, transformers 4.55.4, LLaVA-NeXT from
../shared/llava-next without its dependencies). These tests, run in the main `.venv` under pytest, drive that
environment's `lmms-eval` on the tiny original-layout checkpoint of tests/tiny_llava_original.py (written here, read
there). They find it at `$EIBENCH_LLAVA_VENV` (the Makefile exports it), else at `<repo>/.venv-llava`; when it is
missing they skip with the command that builds it, except under `CI=true`, where a missing environment fails.

What can still fail keeps a test of its message: LLaVA-NeXT with the main environment's transformers 5.x.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import lmms_eval_eibench
from lmms_eval_eibench.harness import llava_original

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
OURS = "lmms-eval-eibench: "  # how the discovery hook's messages start
OFFICIAL = "You are a good expert of emotion understanding. Look at the image, "
MAX_NEW_TOKENS = 8


@pytest.fixture(scope="module")
def llava_venv() -> Path:
    """The LLaVA-NeXT environment (`make setup-llava`)."""
    venv = Path(os.environ.get("EIBENCH_LLAVA_VENV") or REPO / ".venv-llava")
    if not (venv / "bin" / "lmms-eval").is_file():
        reason = (f"no LLaVA-NeXT environment at {venv} (EIBENCH_LLAVA_VENV or <repo>/.venv-llava): "
                  "`make setup-llava` builds it")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)  # CI runs `make test`, which builds it: absence there is a broken build
        pytest.skip(reason)
    return venv


@pytest.fixture(scope="module")
def checkpoint(llava_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint, written by the LLaVA-NeXT environment's transformers (4.55 cannot read a tokenizer
    saved by 5.x, as it could not read a real checkpoint saved by it)."""
    dest = tmp_path_factory.mktemp("llava-original")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from tiny_llava_original import build_tiny_llava_original; "
            "print(build_tiny_llava_original(sys.argv[2]))")
    proc = _run([str(llava_venv / "bin" / "python"), "-c", code, str(TESTS), str(dest)], {})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Path(proc.stdout.strip().splitlines()[-1])


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    # PYTHONPATH and VIRTUAL_ENV of the main environment must not leak into the other one
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(cmd, env={**base, **OFFLINE, **env}, capture_output=True, text=True, timeout=900,
                          check=False)


def _usage_line(checkpoint: Path, out: Path, *extra: str) -> list[str]:
    """The usage line (`--model llava --model_args pretrained=... --tasks eibench_complex`) on CPU
    (`device_map=auto`: with any other value lmms-eval's llava model picks cuda:0), a few tokens."""
    return ["--model", "llava", "--model_args", f"pretrained={checkpoint},device=cpu,device_map=auto",
            "--tasks", "eibench_complex", "--gen_kwargs", f"max_new_tokens={MAX_NEW_TOKENS}",
            "--output_path", str(out), "--log_samples", "--verbosity", "DEBUG", *extra]  # DEBUG: a failure exits 1


def _judge_env(dataset: Path, tmp_path: Path) -> dict[str, str]:
    return {"EIBENCH_DATASET": str(dataset), "EIBENCH_JUDGE": "embedding", "EIBENCH_CACHE_DIR": str(tmp_path / "c")}


def _samples(out: Path) -> list[dict]:
    (path,) = out.rglob("*_samples_eibench_complex.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _ours(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(OURS)]


def _complex_rows(dataset: Path) -> list[dict]:
    import datasets

    return datasets.load_dataset(str(dataset), "complex", split="test").remove_columns("image").to_list()


@pytest.fixture(scope="module")
def judged_run(llava_venv, checkpoint, sample_dataset_dir, tmp_path_factory):
    """The usage line on all complex documents of the embedded sample, judged by the offline embedding judge."""
    tmp = tmp_path_factory.mktemp("llava-run")
    proc = _run([str(llava_venv / "bin" / "lmms-eval"), *_usage_line(checkpoint, tmp / "out")],
                _judge_env(sample_dataset_dir, tmp))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc, tmp / "out"


@pytest.mark.slow
def test_model_llava_eibench_complex_runs_to_results(judged_run, llava_venv, sample_dataset_dir) -> None:
    """The bar: results with EIBench metrics and provenance as in the llava_hf runs; recall is the samples' mean."""
    from lmms_eval_eibench.data.dataset import fingerprint

    proc, out = judged_run
    (path,) = out.rglob("*_results.json")
    results = json.loads(path.read_text())
    assert results["config"]["model"] == "llava"
    metrics = results["results"]["eibench_complex"]
    samples = _samples(out)
    rows = {row["id"]: row for row in _complex_rows(sample_dataset_dir)}
    assert len(samples) == len(rows) == 4  # every document answered and judged
    scores = []
    for sample in samples:
        item = sample["eibench_semantic_recall"]
        assert not item["verdict"]["failed"] and item["verdict"]["id"] in rows
        assert isinstance(sample["filtered_resps"], str) and sample["input"].startswith(OFFICIAL)
        scores.append(item["score"])
    assert metrics["eibench_semantic_recall,none"] == pytest.approx(sum(scores) / len(scores))
    assert metrics["eibench_judge_failures,none"] == 0
    config = results["configs"]["eibench_complex"]
    record = config["metadata"]["eibench_provenance"]
    assert record["judge"]["kind"] == "embedding"
    assert record["model_prompt"] == {"template": "user", "version": "1"}
    assert record["generation"] == config["generation_kwargs"]
    assert record["generation"]["max_new_tokens"] == MAX_NEW_TOKENS
    assert record["plugin"]["version"] == lmms_eval_eibench.__version__
    assert record["dataset"]["manifest_sha256"] == fingerprint(sample_dataset_dir)
    # the pair works, so the hook says nothing; transformers and LLaVA-NeXT are the ones the Makefile installs
    assert not _ours(proc.stderr), _ours(proc.stderr)


@pytest.mark.slow
def test_model_llava_predict_only_then_eibench_score(judged_run, llava_venv, checkpoint, sample_dataset_dir,
                                                     tmp_path) -> None:
    """Predict with no judge reachable, score afterwards with `eibench score`: the same answers (greedy decoding)
    and the same recall as the judged run."""
    _, judged_out = judged_run
    out = tmp_path / "out"
    no_judge = {"EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_JUDGE": "openai",
                "EIBENCH_JUDGE_BASE_URL": "http://127.0.0.1:9/v1", "EIBENCH_JUDGE_API_KEY": "unused"}
    proc = _run([str(llava_venv / "bin" / "lmms-eval"), *_usage_line(checkpoint, out, "--predict_only")], no_judge)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    predicted = _samples(out)
    assert all("eibench_semantic_recall" not in s and "eibench_recall" not in s for s in predicted)
    answers = {s["doc_id"]: s["filtered_resps"] for s in predicted}
    assert answers == {s["doc_id"]: s["filtered_resps"] for s in _samples(judged_out)}

    (samples_file,) = out.rglob("*_samples_eibench_complex.jsonl")
    score = _run([str(llava_venv / "bin" / "eibench"), "score", str(samples_file), "--judge", "embedding",
                  "--json", "--no-progress"], _judge_env(sample_dataset_dir, tmp_path))
    assert score.returncode == 0, score.stderr[-3000:]
    summary = json.loads(score.stdout)
    judged = json.loads(next(judged_out.rglob("*_results.json")).read_text())["results"]["eibench_complex"]
    assert summary["metric"] == "eibench_semantic_recall"
    assert summary["overall"] == pytest.approx(judged["eibench_semantic_recall,none"])
    assert summary["provenance"]["samples"] == {"scored": 4, "subset": 4}
    assert summary["provenance"]["judge"]["kind"] == "embedding"


def _llava_next_beside(llava_venv: Path, dest: Path) -> Path:
    """A folder holding only LLaVA-NeXT's `llava` package (and its metadata) from the LLaVA-NeXT environment: put
    on PYTHONPATH, it makes the main environment (transformers 5.x) an environment where someone installed
    LLaVA-NeXT with `pip install --no-deps` into today's transformers."""
    (site,) = (llava_venv / "lib").glob("python3*/site-packages")
    dest.mkdir()
    (dest / "llava").symlink_to(site / "llava", target_is_directory=True)
    for info in site.glob("llava-*.dist-info"):
        (dest / info.name).symlink_to(info, target_is_directory=True)
    return dest


@pytest.mark.slow
def test_model_llava_next_with_transformers_5_says_why(llava_venv, checkpoint, sample_dataset_dir,
                                                       tmp_path) -> None:
    """LLaVA-NeXT with transformers >= 4.56 (the main environment has 5.x): lmms-eval hides the import error and
    stops; our one line, printed before the model loads, names the pair, the range and the second environment."""
    from importlib.metadata import version

    assert llava_original._release(version("transformers")) >= (4, 56), "this test needs the main .venv's transformers"
    path = _llava_next_beside(llava_venv, tmp_path / "llava-next")
    out = tmp_path / "out"
    lmms_eval = str(Path(sys.executable).with_name("lmms-eval"))
    proc = _run([lmms_eval, *_usage_line(checkpoint, out, "--limit", "1")],
                {**_judge_env(sample_dataset_dir, tmp_path), "PYTHONPATH": str(path)})
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0 and not list(out.rglob("*_results.json")), log[-3000:]
    assert "name 'get_model_name_from_path' is not defined" in log  # lmms-eval's own symptom
    (ours,) = _ours(proc.stderr)
    assert "cannot import `llava` (llava 1.7.0.dev0" in ours and f"transformers {version('transformers')}" in ours
    assert "apply_chunking_to_forward" in ours  # the import error lmms-eval hides
    assert f"transformers{llava_original.TRANSFORMERS} only" in ours and llava_original.INSTALL in ours


@pytest.mark.slow
def test_model_llava_without_the_package_says_what_to_install(llava_venv, checkpoint, sample_dataset_dir,
                                                              tmp_path) -> None:
    """The LLaVA-NeXT environment without `llava` (hidden by a None in sys.modules): lmms-eval fails with its
    NameError; our message says LLaVA-NeXT is missing and, transformers being in range, the one command to add it."""
    out = tmp_path / "out"
    code = ("import sys, runpy; sys.modules['llava'] = None; sys.argv = ['lmms-eval', *sys.argv[1:]]; "
            "runpy.run_module('lmms_eval', run_name='__main__')")
    proc = _run([str(llava_venv / "bin" / "python"), "-c", code, *_usage_line(checkpoint, out, "--limit", "1")],
                _judge_env(sample_dataset_dir, tmp_path))
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0 and not list(out.rglob("*_results.json")), log[-3000:]
    assert "name 'get_model_name_from_path' is not defined" in log
    (ours,) = _ours(proc.stderr)
    assert "which is not installed (transformers 4.55.4)" in ours and llava_original.LLAVA_NEXT_REPO in ours
    assert f'Install it here: `pip install --no-deps "{llava_original.LLAVA_NEXT}"`' in ours


def test_model_llava_environment_is_the_one_the_readme_gives() -> None:
    """The Makefile builds what the README tells users to run, and the hook names the same commands."""
    from packaging.specifiers import SpecifierSet

    makefile = (REPO / "Makefile").read_text()
    readme = (REPO / "README.md").read_text()
    pinned = makefile.split("LLAVA_TRANSFORMERS := transformers==", 1)[1].split()[0]
    assert pinned in SpecifierSet(llava_original.TRANSFORMERS)
    assert f"LLaVA-NeXT-{llava_original.LLAVA_NEXT_COMMIT[:7]}.tar.gz" in makefile
    assert f'pip install lmms-eval-eibench "transformers{llava_original.TRANSFORMERS}"' in readme
    assert f'pip install --no-deps "{llava_original.LLAVA_NEXT}"' in readme
    assert "llava-torch==" not in readme + makefile + (REPO / "docs" / "lmms-eval.md").read_text()


# --- the diagnosis, on the pairs of the README's table (facts as `installed()` reads them; no import) ---------

NEXT = ("llava 1.7.0.dev0",)
TORCH = ("llava-torch 1.2.2.post1",)


def test_model_llava_diagnosis_is_silent_for_the_working_pair() -> None:
    # LLaVA-NeXT lacks only `cache`, which 4.x does not pass
    for transformers in ("4.39.2", "4.55.4"):
        found = llava_original.Installed(transformers, NEXT, None, ("cache",), ("cache_position",))
        assert llava_original.diagnose(found) is None


def test_model_llava_diagnosis_names_the_cause_per_pair() -> None:
    diagnose, Installed = llava_original.diagnose, llava_original.Installed
    next_5 = diagnose(Installed("5.25.0", NEXT, "ImportError: cannot import name 'apply_chunking_to_forward'"))
    assert "cannot import `llava` (llava 1.7.0.dev0) with transformers 5.25.0" in next_5
    assert "works with transformers>=4.39.2,<4.56 only" in next_5 and llava_original.INSTALL in next_5
    torch_4 = diagnose(Installed("4.55.4", TORCH, None, ("cache_position", "cache"), ("cache_position",)))
    assert "passes `cache_position=`" in torch_4 and "haotian-liu/LLaVA" in torch_4 and "uninstall it" in torch_4
    torch_5 = diagnose(Installed("5.25.0", TORCH, None, ("cache_position", "cache"), ("cache",)))
    assert "passes `cache=`" in torch_5 and "haotian-liu/LLaVA" in torch_5 and llava_original.INSTALL in torch_5
    missing_4 = diagnose(Installed("4.55.4"))
    assert "not installed" in missing_4 and f'`pip install --no-deps "{llava_original.LLAVA_NEXT}"`' in missing_4
    assert llava_original.INSTALL not in missing_4  # transformers is in range: one command, here
    missing_5 = diagnose(Installed("5.25.0"))
    assert "not installed" in missing_5 and llava_original.INSTALL in missing_5  # a second environment
    for message in (next_5, torch_4, torch_5, missing_4, missing_5):
        assert "--model llava_hf" in message and ("NameError" in message or "TypeError" in message)


def test_model_llava_other_models_get_no_message(capsys) -> None:
    """The hook speaks only for `--model llava`: an index built for any other model prints nothing of ours."""
    for name in ("llava_hf", "dummy", None):
        llava_original.report(name)
    assert OURS not in capsys.readouterr().err
