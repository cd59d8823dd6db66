"""The README's first command: the whole EIBench job offline, end to end.

1. Build the dataset: from the official annotations when ``../shared/eibench`` (or ``$EIBENCH_OFFICIAL_DIR``) is
   there, with placeholder images drawn at the official paths; else the embedded sample.
2. Build a tiny random LLaVA checkpoint from configs (no download) and evaluate it with lmms-eval's own runner
   on ``eibench_basic`` and ``eibench_complex`` (the plugin is found with no ``--include_path``).
3. Judge with the offline embedding judge (no API key) and print the paper-layout table with ``eibench report``.

The model is random, so its answers are gibberish and its recall is near zero: the point is that every step runs.
Everything goes to ``$EIBENCH_DEMO_DIR`` (default: a folder in the system temp dir); nothing in ``~`` is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OFFICIAL = Path(os.environ.get("EIBENCH_OFFICIAL_DIR", REPO.parent / "shared" / "eibench"))
LIMIT = os.environ.get("EIBENCH_DEMO_LIMIT", "12")  # documents per task: a random model needs no more


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def build_dataset(work: Path) -> Path:
    from lmms_eval_eibench.build import ImageRoots, build, format_summary
    from lmms_eval_eibench.records import load_records
    from lmms_eval_eibench.sample import write_images

    out = work / "dataset"
    if (OFFICIAL / "EI_Basic" / "user.jsonl").is_file():
        step(f"building the dataset from the official annotations in {OFFICIAL} (placeholder images)")
        images = work / "images"
        write_images(load_records(OFFICIAL).image_paths(), images, size=64)
        summary = build(OFFICIAL, out, ImageRoots(image_root=images), overwrite=True, log=lambda _: None)
    else:
        step("building the embedded sample dataset (our own items, images drawn by code)")
        summary = build(None, out, ImageRoots(), overwrite=True, log=lambda _: None)
    print(format_summary(summary))
    return out


def build_model(work: Path) -> Path:
    step("building a tiny random LLaVA checkpoint from configs")
    sys.path.insert(0, str(REPO / "tests"))
    from tiny_llava import build_tiny_llava

    return build_tiny_llava(work / "tiny-llava")


def evaluate(dataset: Path, model: Path, work: Path) -> Path:
    step(f"lmms-eval --model llava_hf --tasks eibench_basic,eibench_complex --limit {LIMIT} (embedding judge)")
    results = work / "results"
    shutil.rmtree(results, ignore_errors=True)
    env = {**os.environ, "EIBENCH_DATASET": str(dataset), "EIBENCH_JUDGE": "embedding",
           "EIBENCH_CACHE_DIR": str(work / "verdicts"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    cmd = [str(Path(sys.executable).parent / "lmms-eval"), "--model", "llava_hf",
           "--model_args", f"pretrained={model},device=cpu,device_map=cpu,dtype=float32",
           "--tasks", "eibench_basic,eibench_complex", "--limit", LIMIT, "--gen_kwargs", "max_new_tokens=48",
           "--batch_size", "1", "--log_samples", "--output_path", str(results), "--verbosity", "DEBUG"]
    log = work / "lmms-eval.log"
    with log.open("w") as handle:
        code = subprocess.run(cmd, env=env, stdout=handle, stderr=subprocess.STDOUT).returncode
    found = sorted(results.rglob("*_results.json"))
    if code != 0 or not found:  # the CLI can exit 0 on failure: the results file is the proof
        print(log.read_text()[-4000:], file=sys.stderr)
        raise SystemExit(f"lmms-eval failed (exit {code}); full log: {log}")
    print(f"results: {found[-1]}\nlog: {log}")
    return found[-1]


def show(results_file: Path) -> None:
    step("eibench report")
    subprocess.run([str(Path(sys.executable).parent / "eibench"), "report", str(results_file)], check=True)
    samples = sorted(results_file.parent.glob("*_samples_eibench_basic.jsonl"))
    if samples:
        first = json.loads(samples[-1].read_text().splitlines()[0])
        print("\nfirst logged basic sample:")
        print("  prompt:", str(first.get("input"))[:160])
        print("  answer:", str(first.get("filtered_resps") or first.get("resps"))[:160])
        verdict = first.get("eibench_semantic_recall", {}).get("verdict", {})
        print("  verdict:", {k: verdict.get(k) for k in ("recall", "covered", "total", "failed")})


def main() -> int:
    work = Path(os.environ.get("EIBENCH_DEMO_DIR", Path(tempfile.gettempdir()) / "eibench-demo"))
    work.mkdir(parents=True, exist_ok=True)
    dataset = build_dataset(work)
    model = build_model(work)
    show(evaluate(dataset, model, work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
