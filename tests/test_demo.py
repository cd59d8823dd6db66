"""The README's first command (`make demo` runs scripts/demo.py): the whole job offline, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_runs_the_whole_job_offline(tmp_path):
    env = {**os.environ, "EIBENCH_DEMO_DIR": str(tmp_path), "EIBENCH_DEMO_LIMIT": "2"}
    for secret in ("OPENAI_API_KEY", "EIBENCH_JUDGE_API_KEY", "EIBENCH_DATASET", "EIBENCH_JUDGE"):
        env.pop(secret, None)
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py")], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "basic: 1615 rows" in out  # the official annotations are beside the repo in tests and CI
    assert "| Model | Template |" in out and "tiny-llava" in out  # the eibench report table
    assert "You are a good expert of emotion understanding. Look at the image, " in out
    assert list(tmp_path.glob("results/**/*_results.json"))
