"""The README's first command (`make demo` runs scripts/demo.py): the whole job offline, end to end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_runs_the_whole_job_offline(tmp_path):
    # four documents per task: the fewest that can cover the four basic categories
    env = {**os.environ, "EIBENCH_DEMO_DIR": str(tmp_path), "EIBENCH_DEMO_LIMIT": "4", "EIBENCH_DEMO_CHECK_SAMPLES": "8"}  # as make demo: 4 is too few for the blind group
    for secret in ("OPENAI_API_KEY", "EIBENCH_JUDGE_API_KEY", "EIBENCH_DATASET", "EIBENCH_JUDGE",
                   "EIBENCH_JUDGE_PROTOCOL"):
        env.pop(secret, None)
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py")], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "basic: 1615 rows" in out  # the official annotations are beside the repo in tests and CI
    assert "| Model | Template |" in out and "tiny-llava" in out  # the eibench report table
    assert "You are a good expert of emotion understanding. Look at the image, " in out
    results = sorted(tmp_path.glob("results/**/*_results.json"))
    assert results
    # every basic category is among the evaluated documents: each category column of the row has a value
    row = next(line for line in out.splitlines() if line.startswith("| ") and "tiny-llava" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert all(cell != "—" for cell in cells[4:9]), row
    samples = sorted(tmp_path.glob("results/**/*_samples_eibench_basic.jsonl"))
    paths = [json.loads(line)["eibench_semantic_recall"]["image_path"] for line in samples[-1].read_text().splitlines()]
    categories = {path.split("/")[-2].capitalize() for path in paths}  # CAER-S/train/Angry/..., .../sadness/...
    assert categories == {"Happy", "Angry", "Sadness", "Excitement"}
    # the judge's range beside the model: judge-check on the same offline judge, which passes
    assert "the judge's range beside the tiny model" in out
    lines = {line.split(":")[0]: line for line in out.splitlines() if line.startswith("judge-check ")}
    assert "judge-check all" in lines and lines["judge-check all"].split()[-4] == "100.00"
    assert {"judge-check half", "judge-check other", "judge-check injection"} <= set(lines)
    assert "judge-check verdict: PASS" in out
    # the model's own row beside them: its basic recall, from the results file
    data = json.loads(results[-1].read_text())
    value = data["results"]["eibench_basic"]["eibench_semantic_recall,none"]
    assert re.search(rf"^tiny-llava \(random weights\), its answers to 4 basic documents +{value:.2f}$", out, re.MULTILINE)
