"""The caption-only text setting through EleutherAI's harness: the real `lm-eval` CLI, a tiny random causal LM
built here, the loopback OpenAI-compatible judge. Same prompt template and scoring as the lmms-eval tasks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from judge_server import FakeJudgeConfig, judge_server
from tiny_causal_lm import build_tiny_causal_lm

from lmms_eval_eibench.data import documents
from lmms_eval_eibench.lm_eval_tasks import folder

pytestmark = pytest.mark.slow

LM_EVAL = str(Path(sys.executable).parent / "lm-eval")


@pytest.fixture(scope="module")
def captioned_dataset(tmp_path_factory) -> Path:
    """The embedded sample with a caption per image (captions written here)."""
    from lmms_eval_eibench.data.build import ImageRoots, build
    from lmms_eval_eibench.data.records import find_annotation_root, load_records
    from lmms_eval_eibench.data.sample import SAMPLE_DIR

    work = tmp_path_factory.mktemp("captioned")
    paths = load_records(find_annotation_root(SAMPLE_DIR)).image_paths()
    captions = work / "captions.jsonl"
    captions.write_text("".join(json.dumps({"image_path": p, "caption": f"Picture {i}: people at a party table."}) + "\n"
                                for i, p in enumerate(paths)))
    out = work / "dataset"
    build(None, out, ImageRoots(), captions_file=captions, log=lambda line: None)
    return out


def test_lm_eval_caption_text_tasks_produce_scored_samples(captioned_dataset, tmp_path):
    model_dir = build_tiny_causal_lm(tmp_path / "tiny-lm")
    out = tmp_path / "out"
    with judge_server(FakeJudgeConfig(latency=0.05)) as judge:
        env = {**os.environ, "EIBENCH_DATASET": str(captioned_dataset), "EIBENCH_JUDGE": "openai",
               "EIBENCH_JUDGE_BASE_URL": judge.base_url, "EIBENCH_JUDGE_API_KEY": judge.api_key,
               "EIBENCH_JUDGE_MODEL": judge.model, "EIBENCH_CACHE_DIR": str(tmp_path / "verdicts")}
        cmd = [LM_EVAL, "--model", "hf", "--model_args", f"pretrained={model_dir},dtype=float32", "--device", "cpu",
               "--tasks", "eibench_basic_caption_text,eibench_complex_caption_text", "--include_path", str(folder()),
               "--gen_kwargs", "max_gen_toks=16", "--output_path", str(out), "--log_samples"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-6000:]
        requests, in_flight = judge.stats.chat_requests, judge.stats.max_in_flight

    results = json.loads(sorted(out.rglob("results_*.json"))[-1].read_text())
    n_docs = 0
    for subset in ("basic", "complex"):
        task = f"eibench_{subset}_caption_text"
        value = results["results"][task]["eibench_recall,none"]
        assert 0.0 <= value <= 100.0 and results["results"][task]["eibench_judge_failures,none"] == 0
        samples = [json.loads(line) for line in sorted(out.rglob(f"samples_{task}_*.jsonl"))[-1].read_text().splitlines()]
        assert samples and all(not s["eibench_recall"]["verdict"]["failed"] for s in samples)
        scores = [s["eibench_recall"]["score"] for s in samples]
        assert value == pytest.approx(sum(scores) / len(scores))
        for sample in samples:
            prompt = sample["arguments"]["gen_args_0"]["arg_0"]
            assert prompt == documents.prompt("caption_text", sample["doc"])  # the template shared with lmms-eval
        metadata = results["configs"][task]["metadata"]
        assert metadata["prompt_template"] == "caption_text"
        record = metadata["eibench_provenance"]  # the same provenance record as on the lmms-eval side
        assert record["model_prompt"] == {"template": "caption_text", "version": "1"}
        assert record["judge"]["model"] == judge.model and record["judge"]["endpoint"] == judge.base_url
        assert record["generation"]["max_gen_toks"] == 16  # --gen_kwargs, applied after task construction
        assert record["dataset"]["manifest_sha256"] is not None
        n_docs += len(samples)
    assert requests == n_docs, "each answer judged once (through one judge_many call per task)"
    assert in_flight > 1, "answers must be judged concurrently"
