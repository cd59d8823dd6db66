"""Concurrent judging inside an lmms-eval run, measured against the ideal.

Runs `lmms-eval --model dummy --tasks eibench_basic --limit 200 --log_samples` (the real CLI, the installed plugin)
on the official annotations with placeholder images, judged by the fake OpenAI-compatible judge on 127.0.0.1
answering each request after 100 ms, with EIBENCH_JUDGE_CONCURRENCY=16 and an empty verdict cache. Judging time is
read from the plugin's log line ("judged N answers ... in X s"); the ideal is N * latency / concurrency.
Per-document judging in lmms-eval's process_results pool (4 threads) would take N * latency / 4.

    python bench/bench_lmms_judging.py [--docs 200] [--latency 0.1] [--concurrency 16]

Prints the ratio to the ideal and exits 1 when it exceeds 1.5 (the issue's bar) or when the verdicts are not
all in the samples file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from judge_server import FakeJudgeConfig, judge_server

OFFICIAL_DIR = Path(os.environ.get("EIBENCH_OFFICIAL_DIR", REPO.parent / "shared" / "eibench"))
BAR = 1.5


def build_dataset(work: Path) -> Path:
    """The official annotations with placeholder images drawn at the official paths (basic + complex)."""
    from lmms_eval_eibench.data.build import ImageRoots, build
    from lmms_eval_eibench.data.records import load_records
    from lmms_eval_eibench.data.sample import write_images

    images = work / "images"
    write_images(load_records(OFFICIAL_DIR).image_paths(), images, size=32)
    out = work / "dataset"
    build(OFFICIAL_DIR, out, ImageRoots(image_root=images), log=lambda line: None)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-lmms-judging-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        dataset = build_dataset(work)
        print(f"dataset built in {time.perf_counter() - started:.1f} s: {dataset}")
        with judge_server(FakeJudgeConfig(latency=args.latency)) as judge:
            env = {
                **os.environ,
                "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "XDG_CACHE_HOME": str(work / "xdg"),
                "HF_DATASETS_CACHE": str(work / "hf-datasets"),
                "EIBENCH_DATASET": str(dataset), "EIBENCH_JUDGE": "openai",
                "EIBENCH_JUDGE_BASE_URL": judge.base_url, "EIBENCH_JUDGE_API_KEY": judge.api_key,
                "EIBENCH_JUDGE_MODEL": judge.model, "EIBENCH_JUDGE_CONCURRENCY": str(args.concurrency),
                "EIBENCH_CACHE_DIR": str(work / "verdicts"),
            }
            out = work / "out"
            cmd = [str(Path(sys.executable).parent / "lmms-eval"), "--model", "dummy", "--model_args",
                   "response=Her friend told a joke while the birthday cake arrived", "--tasks", "eibench_basic",
                   "--limit", str(args.docs), "--log_samples", "--output_path", str(out), "--verbosity", "DEBUG"]
            run_started = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            run_seconds = time.perf_counter() - run_started
            requests, in_flight = judge.stats.chat_requests, judge.stats.max_in_flight
        log = proc.stdout + proc.stderr
        if proc.returncode != 0:
            print(log[-5000:])
            print("FAIL: lmms-eval failed")
            return 1
        match = re.search(r"judged (\d+) answers of eibench_basic in ([\d.]+) s", log)
        samples_files = sorted(out.rglob("*_samples_eibench_basic.jsonl"))
        samples = [json.loads(line) for line in samples_files[-1].read_text().splitlines()] if samples_files else []
        with_verdict = sum(1 for s in samples if s.get("eibench_recall", {}).get("verdict", {}).get("raw"))

    if match is None:
        print("FAIL: no 'judged N answers' line in the lmms-eval log (the filter did not judge the task at once)")
        return 1
    judged, seconds = int(match.group(1)), float(match.group(2))
    ideal = judged * args.latency / args.concurrency
    per_document = judged * args.latency / 4
    ratio = seconds / ideal
    print(f"lmms-eval run: {run_seconds:.1f} s in all; {judged} answers judged in one call")
    print(f"judge server: {requests} chat requests, at most {in_flight} in flight")
    print(f"judging: {seconds:.2f} s; ideal {judged} x {args.latency:g} s / {args.concurrency} = {ideal:.2f} s; "
          f"ratio {ratio:.2f} (bar {BAR}); per-document judging in lmms-eval's 4-thread pool would take "
          f">= {per_document:.2f} s")
    print(f"samples with a verdict (raw judge text): {with_verdict} / {len(samples)}")
    ok = ratio <= BAR and judged == args.docs and with_verdict == len(samples) == args.docs
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
