"""Judge throughput, measured side by side in one run, on the real EIBench annotations.

1. The OpenAI-compatible judge against the fake judge (tests/judge_server.py, in its own process on
   127.0.0.1) with 100 ms latency per request, over the 1,615 basic samples:
   concurrency 1 (on a subset; per-sample time extrapolated), 16 and 64, then a fully cached rerun
   (requests counted on the server: must be zero).
2. The embedding judge (all-MiniLM-L6-v2): model load, then all 1,615 basic samples with their ground
   truth as answer, answers shuffled between samples, and the 50 complex samples (1,665 in all);
   then the threshold calibration on the same annotations.

    .venv/bin/python bench/bench_judge.py [--serial-subset 60] [--skip-embedding]

Annotations: $EIBENCH_OFFICIAL_DIR or ../shared/eibench next to the repository. Bars (issue 3):
c16 within 1.5x of ideal (1615 x 0.1 s / 16) and >= 10x faster per sample than c1; cached rerun
0 requests; embedding: ground truth >= 90, shuffled <= 30, 1,615 basic in under 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LATENCY = 0.1


def official_dir() -> Path:
    return Path(os.environ.get("EIBENCH_OFFICIAL_DIR", REPO.parent / "shared" / "eibench"))


def load_items(subset: str) -> list:
    from lmms_eval_eibench.data.records import load_records
    from lmms_eval_eibench.judges import JudgeItem

    records = load_records(official_dir()).subset(subset)
    return [JudgeItem.from_doc(r, r.ground_truth) for r in records]


def shuffled(items: list, seed: int = 0) -> list:
    """Each sample answered with another sample's ground truth (a derangement)."""
    from lmms_eval_eibench.judges import JudgeItem

    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    donor = {a: b for a, b in zip(order, order[1:] + order[:1])}
    return [JudgeItem(it.id, items[donor[i]].ground_truth, it.ground_truth, it.triggers, it.category)
            for i, it in enumerate(items)]


class Server:
    """tests/judge_server.py in a child process (so its threads do not share our GIL)."""

    def __init__(self, latency: float, *faults: str) -> None:
        self.proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "judge_server.py"), "--latency", str(latency),
                                      *faults], stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            raise RuntimeError("fake judge did not start")

    def stats(self) -> dict:
        with urllib.request.urlopen(self.base_url.removesuffix("/v1") + "/_stats") as response:
            return json.load(response)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def engine_for(server: Server, concurrency: int, cache_dir: str | None, timeout: float = 30):
    from lmms_eval_eibench.judges import JudgeSettings, build_engine

    settings = JudgeSettings.from_env(
        env={}, base_url=server.base_url, api_key="test-judge-key", model="fake-judge", concurrency=concurrency,
        cache=cache_dir is not None, cache_dir=cache_dir, progress=False, timeout=timeout,
    )
    return build_engine(settings)


def timed(engine, items) -> tuple[float, list]:
    start = time.perf_counter()
    verdicts = engine.judge_many(items)
    return time.perf_counter() - start, verdicts


def bench_api(items: list, serial_subset: int) -> list[tuple[str, bool]]:
    n = len(items)
    server = Server(LATENCY)
    bars: list[tuple[str, bool]] = []
    try:
        engine_for(server, 1, None).preflight()
        t1, _ = timed(engine_for(server, 1, None), items[:serial_subset])
        per1 = t1 / serial_subset
        cache_dir = tempfile.mkdtemp(prefix="eibench-bench-cache-")
        before = server.stats()["chat_requests"]
        t16, v16 = timed(engine_for(server, 16, cache_dir), items)
        requests16 = server.stats()["chat_requests"] - before
        t64, v64 = timed(engine_for(server, 64, None), items)
        before = server.stats()["chat_requests"]
        tc, vc = timed(engine_for(server, 16, cache_dir), items)
        requests_cached = server.stats()["chat_requests"] - before
        max_in_flight = server.stats()["max_in_flight"]
    finally:
        server.close()

    ideal16, ideal64 = n * LATENCY / 16, n * LATENCY / 64
    print(f"\n== OpenAI-compatible judge, loopback server, {LATENCY * 1000:.0f} ms latency, {n} basic samples ==")
    print(f"{'run':<28}{'samples':>8}{'seconds':>10}{'ms/sample':>11}{'vs ideal':>10}{'vs c1':>9}")
    print(f"{'concurrency 1 (subset)':<28}{serial_subset:>8}{t1:>10.2f}{per1 * 1000:>11.1f}{per1 / LATENCY:>9.2f}x{1:>8.1f}x")
    print(f"{'concurrency 1 (extrapolated)':<28}{n:>8}{per1 * n:>10.1f}")
    for name, t, ideal in (("concurrency 16", t16, ideal16), ("concurrency 64", t64, ideal64)):
        print(f"{name:<28}{n:>8}{t:>10.2f}{t / n * 1000:>11.2f}{t / ideal:>9.2f}x{per1 / (t / n):>8.1f}x")
    print(f"{'cached rerun (c16)':<28}{n:>8}{tc:>10.2f}{tc / n * 1000:>11.3f}{'':>10}{per1 / (tc / n):>8.0f}x")
    print(f"requests: c16 run {requests16}, cached rerun {requests_cached}; most in flight at once {max_in_flight}")
    same = [a.recall for a in v16] == [b.recall for b in v64] == [c.recall for c in vc]
    failed = sum(v.judge_failed for v in v16 + v64 + vc)
    print(f"verdicts identical across c16 / c64 / cached: {same}; judge failures: {failed}")
    bars.append((f"c16 within 1.5x of ideal ({t16:.2f} s vs {ideal16:.2f} s = {t16 / ideal16:.2f}x)", t16 <= 1.5 * ideal16))
    bars.append((f"c16 >= 10x faster per sample than c1 ({per1 / (t16 / n):.1f}x)", per1 / (t16 / n) >= 10))
    bars.append((f"cached rerun makes zero requests ({requests_cached})", requests_cached == 0))
    bars.append(("identical verdicts, no failures", same and failed == 0))

    # Injected faults: 20% HTTP 500, 10% 429 + Retry-After 0.5 s, 5% hanging past the 1 s timeout, 5% unparseable.
    faulty = Server(LATENCY, "--error-500", "0.2", "--rate-429", "0.1", "--retry-after", "0.5", "--hang", "0.05",
                    "--hang-seconds", "2", "--garbage", "0.05")
    try:
        tf, vf = timed(engine_for(faulty, 16, None, timeout=1.0), items)
        stats = faulty.stats()
    finally:
        faulty.close()
    agree = sum(1 for a, b in zip(vf, v16) if not a.judge_failed and a.recall == b.recall)
    failed_f = sum(v.judge_failed for v in vf)
    wrong = len(items) - agree - failed_f
    print(f"\n== same {n} samples, c16, injected faults {stats['faults']} over {stats['chat_requests']} requests ==")
    print(f"{tf:.1f} s; same verdict as the fault-free run: {agree}; counted as judge failures: {failed_f}; "
          f"different verdict: {wrong}")
    bars.append((f"faults: every sample has the fault-free verdict or is a counted failure ({wrong} differ)", wrong == 0))
    return bars


def bench_embedding(basic: list, complex_items: list) -> list[tuple[str, bool]]:
    import numpy as np

    from lmms_eval_eibench.judges import JudgeSettings
    from lmms_eval_eibench.judges.embedding import EmbeddingJudge, calibrate_threshold

    judge = EmbeddingJudge(JudgeSettings.from_env(kind="embedding", cache=False, progress=False))
    start = time.perf_counter()
    judge.preflight()
    load = time.perf_counter() - start

    def run(items):
        start = time.perf_counter()
        verdicts = []
        for i in range(0, len(items), judge.batch_size):
            verdicts += judge.judge_batch(items[i : i + judge.batch_size])
        return time.perf_counter() - start, 100 * float(np.mean([v.recall for v in verdicts]))

    t_gt, r_gt = run(basic)  # cold: every trigger and span embedded for the first time
    t_sh, r_sh = run(shuffled(basic))  # warm: these answers are other samples' ground truth, already embedded
    t_cx, r_cx = run(complex_items)
    n_all = len(basic) + len(complex_items)
    print(f"\n== embedding judge (all-MiniLM-L6-v2 from {judge.model_source}), threshold {judge.threshold} ==")
    print(f"model load {load:.1f} s (once per process); {judge.threads} intra-op thread(s)")
    print(f"{'run':<36}{'samples':>8}{'seconds':>10}{'samples/s':>11}{'semantic recall':>17}")
    print(f"{'basic, ground truth as answer (cold)':<36}{len(basic):>8}{t_gt:>10.1f}{len(basic) / t_gt:>11.1f}{r_gt:>17.1f}")
    print(f"{'basic, answers shuffled (warm)':<36}{len(basic):>8}{t_sh:>10.1f}{len(basic) / t_sh:>11.1f}{r_sh:>17.1f}")
    print(f"{'complex, ground truth as answer':<36}{len(complex_items):>8}{t_cx:>10.1f}{len(complex_items) / t_cx:>11.1f}{r_cx:>17.1f}")
    print(f"all {n_all} samples (ground truth as answer): {t_gt + t_cx:.1f} s, {n_all / (t_gt + t_cx):.1f} samples/s")
    print("calibration (lowest threshold at which same-category shuffled answers cover <= budget of triggers):")
    for budget in (0.10, 0.15, 0.20):
        result = calibrate_threshold(judge, basic, budget=budget)
        print(f"  budget {budget:.2f}: threshold {result['threshold']:.4f}; ground truth "
              f"{100 * result['ground_truth_recall']:.1f}, same-category shuffled "
              f"{100 * result['same_category_shuffled_recall']:.1f}, any-category shuffled "
              f"{100 * result['any_category_shuffled_recall']:.1f}")
    return [
        (f"embedding: ground truth as answer >= 90 ({r_gt:.1f})", r_gt >= 90),
        (f"embedding: shuffled answers <= 30 ({r_sh:.1f})", r_sh <= 30),
        (f"embedding: 1,615 basic in under 60 s ({t_gt:.1f} s, model load {load:.1f} s excluded)", t_gt < 60),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serial-subset", type=int, default=60, help="samples judged at concurrency 1")
    parser.add_argument("--skip-embedding", action="store_true")
    parser.add_argument("--skip-api", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    basic = load_items("basic")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (other processes share the CPU)")
    bars = []
    if not args.skip_api:
        bars += bench_api(shuffled(basic, seed=1)[: len(basic) // 2] + basic[len(basic) // 2 :], args.serial_subset)
    if not args.skip_embedding:
        bars += bench_embedding(basic, load_items("complex"))
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    for text, ok in bars:
        print(f"[{'PASS' if ok else 'FAIL'}] {text}")
    return 0 if all(ok for _, ok in bars) else 1


if __name__ == "__main__":
    sys.exit(main())
