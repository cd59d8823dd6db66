"""The README's `load_dataset` snippet works as written: `hub_upload.py`'s default output, loaded with `datasets`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _snippet() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Load it", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_load_dataset_snippet_runs_as_written(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "EIBENCH_DATASET")}
    env.update(HOME=str(tmp_path), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    # the embedded sample, built to the default location (~/.cache/lmms_eval_eibench/dataset)
    built = subprocess.run([sys.executable, str(REPO / "hub_upload.py")], env=env, capture_output=True, text=True,
                           timeout=600, cwd=tmp_path, check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    assert (tmp_path / ".cache" / "lmms_eval_eibench" / "dataset" / "README.md").is_file()
    code = _snippet() + "\nprint(len(basic), len(complex_), sorted(set(basic['category'])))\n"
    assert "expanduser" in code
    done = subprocess.run([sys.executable, "-c", code], env={**env, "HF_HOME": str(tmp_path / "hf")},
                          capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "8 4 ['Angry', 'Excitement', 'Happy', 'Sadness']"
