"""The README's first command: the whole EIBench job offline, end to end.

1. Build the dataset: from the official annotations when ``../shared/eibench`` (or ``$EIBENCH_OFFICIAL_DIR``) is
   there, with placeholder images drawn at the official paths; else the embedded sample. The official basic
   items are interleaved by category (Happy, Angry, Sadness, Excitement, Happy, ...) in a copy of the
   annotations in the demo folder: the file lists all Angry images first, and lmms-eval's ``--limit N`` takes the
   first N documents, so the demo's documents would otherwise all be Angry.
2. Build a tiny random LLaVA checkpoint from configs (no download) and evaluate it with lmms-eval's own runner
   on ``eibench_basic`` and ``eibench_complex`` (the plugin is found with no ``--include_path``).
3. Judge with the offline embedding judge (no API key) and print the paper-layout table with ``eibench report``.
4. ``eibench judge-check`` on the same judge: what the judge gives an answer listing every trigger, half of
   them, another image's triggers, an answer planting full marks, beside the tiny model's row.

The model is random, so its answers are gibberish and its recall is near zero; judge-check shows the judge's
range, so the zero reads as "knows nothing", not as "broken". Everything goes to ``$EIBENCH_DEMO_DIR`` (default:
a folder in the system temp dir); nothing in ``~`` is touched.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OFFICIAL = Path(os.environ.get("EIBENCH_OFFICIAL_DIR", REPO.parent / "shared" / "eibench"))
LIMIT = os.environ.get("EIBENCH_DEMO_LIMIT", "12")  # documents per task: a random model needs no more
CHECK_SAMPLES = os.environ.get("EIBENCH_DEMO_CHECK_SAMPLES", "8")  # judge-check items per group


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def interleaved_annotations(work: Path) -> Path:
    """A copy of the official annotation files whose basic lines take the categories in turn (the lines are the
    official ones, verbatim, only reordered), so that the first N >= 4 documents cover all four categories."""
    from lmms_eval_eibench.data.records import load_records

    records = load_records(OFFICIAL)
    lines = {next(iter(json.loads(line))): line
             for line in (OFFICIAL / "EI_Basic" / "user.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()}
    by_category: dict[str, list[str]] = {}
    for record in records.basic:
        by_category.setdefault(record.category, []).append(record.image_path)
    queues = [list(paths) for paths in by_category.values()]
    order = []
    while any(queues):
        order += [queue.pop(0) for queue in queues if queue]
    out = work / "annotations"
    (out / "EI_Basic").mkdir(parents=True, exist_ok=True)
    (out / "EI_Complex").mkdir(parents=True, exist_ok=True)
    (out / "EI_Basic" / "user.jsonl").write_text("".join(lines[path] + "\n" for path in order), encoding="utf-8")
    shutil.copyfile(OFFICIAL / "EI_Basic" / "basic_ground_truth.json", out / "EI_Basic" / "basic_ground_truth.json")
    shutil.copyfile(OFFICIAL / "EI_Complex" / "ec_complex.jsonl", out / "EI_Complex" / "ec_complex.jsonl")
    return out


def build_dataset(work: Path) -> Path:
    from lmms_eval_eibench.data.build import ImageRoots, build, format_summary
    from lmms_eval_eibench.data.records import load_records
    from lmms_eval_eibench.data.sample import write_images

    out = work / "dataset"
    notes: list[str] = []
    if (OFFICIAL / "EI_Basic" / "user.jsonl").is_file():
        step(f"building the dataset from the official annotations in {OFFICIAL} (placeholder images; basic items "
             "interleaved by category so that the first documents cover all four; the files then differ from the "
             "published ones, so the report marks the rows 'unofficial data', as it would any edited copy)")
        images = work / "images"
        write_images(load_records(OFFICIAL).image_paths(), images, size=64)
        annotations = interleaved_annotations(work)
        summary = build(annotations, out, ImageRoots(image_root=images), overwrite=True, log=notes.append)
    else:
        step("building the embedded sample dataset (our own items, images drawn by code)")
        summary = build(None, out, ImageRoots(), overwrite=True, log=notes.append)
    print(format_summary(summary))
    for note in notes:  # the known defects of the published files, kept as published: shown, not just counted
        print(f"  {note}")
    return out


def build_model(work: Path) -> Path:
    step("building a tiny random LLaVA checkpoint from configs")
    sys.path.insert(0, str(REPO / "tests"))
    from tiny_llava import build_tiny_llava

    return build_tiny_llava(work / "tiny-llava")


def evaluate(dataset: Path, model: Path, work: Path) -> Path:
    results = work / "results"
    shutil.rmtree(results, ignore_errors=True)
    env = {**os.environ, "EIBENCH_DATASET": str(dataset), "EIBENCH_JUDGE": "embedding",
           "EIBENCH_CACHE_DIR": str(work / "verdicts"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    cmd = [str(Path(sys.executable).parent / "lmms-eval"), "--model", "llava_hf",
           "--model_args", f"pretrained={model},device=cpu,device_map=cpu,dtype=float32",
           "--tasks", "eibench_basic,eibench_complex", "--limit", LIMIT, "--gen_kwargs", "max_new_tokens=48",
           "--batch_size", "1", "--log_samples", "--output_path", str(results), "--verbosity", "DEBUG"]
    shown = {k: env[k] for k in ("EIBENCH_DATASET", "EIBENCH_JUDGE", "EIBENCH_CACHE_DIR")}
    step(" ".join(f"{k}={shlex.quote(v)}" for k, v in shown.items()) + " " + shlex.join(cmd))  # exactly what runs
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


def judge_range(results_file: Path, dataset: Path, work: Path) -> None:
    """`eibench judge-check` on the demo's judge, beside the tiny model's basic row."""
    step(f"eibench judge-check --judge embedding --samples {CHECK_SAMPLES}: the judge's range beside the tiny model")
    env = {**os.environ, "EIBENCH_DATASET": str(dataset), "EIBENCH_CACHE_DIR": str(work / "verdicts"),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env.pop("EIBENCH_JUDGE_PROTOCOL", None)
    cmd = [str(Path(sys.executable).parent / "eibench"), "judge-check", "--judge", "embedding", "--samples",
           CHECK_SAMPLES, "--json", "--no-progress"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"eibench judge-check failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    check = json.loads(done.stdout)
    results = json.loads(results_file.read_text())
    basic = results["results"]["eibench_basic"]
    metric = next(m for m in ("eibench_semantic_recall", "eibench_recall") if f"{m},none" in basic)
    n = results.get("n-samples", {}).get("eibench_basic", {}).get("effective")
    table = [(f"tiny-llava (random weights), its answers to {n} basic documents", f"{basic[f'{metric},none']:.2f}",
              "")]
    for group in check["groups"]:
        judged = "n/a" if group["judged"] is None else f"{group['judged']:.2f}"
        table.append((f"judge-check {group['group']}: {group['answer_holds']}", judged,
                      f"truth {group['truth']:.1f}, {'pass' if group['passed'] else 'FAIL'}"))
    width = max(len(row[0]) for row in table)
    print(f"{'answer':<{width}}  {metric} (0-100)")
    for answer, value, note in table:
        print(f"{answer:<{width}}  {value:>6}  {note}".rstrip())
    print(f"judge-check verdict: {'PASS' if check['passed'] else 'FAIL'} ({check['samples']} items per group). "
          "The random model scores like an answer about another image: it has learnt nothing, and the judge "
          "can tell (a real model lands between the 'other' and 'all' rows).")


def main() -> int:
    work = Path(os.environ.get("EIBENCH_DEMO_DIR", Path(tempfile.gettempdir()) / "eibench-demo"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"demo folder (dataset, model, results, logs): {work}  (set EIBENCH_DEMO_DIR to change it)", flush=True)
    dataset = build_dataset(work)
    model = build_model(work)
    results_file = evaluate(dataset, model, work)
    show(results_file)
    judge_range(results_file, dataset, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
