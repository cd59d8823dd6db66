"""The local transformers judge, on tiny Llama chat models built here from configs (no download)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lmms_eval_eibench.judges import (
    JudgeItem,
    JudgeSettings,
    PreflightError,
    build_engine,
)
from lmms_eval_eibench.judges.hf import HFJudge

VERDICT_TOKEN = "{score: 1/2}"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)
CORPUS = [
    "You are a helpful and precise assistant for checking the quality of the answer.",
    "Your task is to assess a record aimed at comprehend an emotion and compare it against the truth label.",
    "The woman smiles at the birthday party. The man is angry about the traffic jam in the rain.",
    "Ground Truth: 1. A birthday cake. 2. Friends around the table. Your Assessment:",
]


def build_tiny_llama(dest: Path, *, rigged: bool) -> Path:
    """A random 2-layer Llama with a BPE tokenizer trained here. `rigged`: the last layer's MLP bias
    dominates the residual stream and only the verdict token's output row matches it, so greedy
    decoding always emits VERDICT_TOKEN: a real model whose reply the judge can parse."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Metaspace()
    raw.decoder = decoders.Metaspace()
    raw.train_from_iterator(CORPUS * 4, trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"],
                                                            show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    if rigged:  # the random model cannot spell a verdict: no '{' or '/' in its vocabulary
        tokenizer.add_tokens([VERDICT_TOKEN])  # an ordinary (non-special) token: survives skip_special_tokens
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         mlp_bias=rigged, bos_token_id=1, eos_token_id=2, pad_token_id=2)
    model = LlamaForCausalLM(config)
    if rigged:
        with torch.no_grad():
            last = model.model.layers[-1].mlp
            last.down_proj.weight.zero_()
            last.down_proj.bias.fill_(100.0)
            model.lm_head.weight.normal_(0, 0.01)
            model.lm_head.weight[tokenizer.convert_tokens_to_ids(VERDICT_TOKEN)] = 1.0
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


@pytest.fixture(scope="module")
def rigged_model(tmp_path_factory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("rigged-llama"), rigged=True)


@pytest.fixture(scope="module")
def random_model(tmp_path_factory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("random-llama"), rigged=False)


def items(n: int = 5) -> list[JudgeItem]:
    gt = "1. A birthday cake.\n2. Friends around the table.\n3. Balloons.\n4. Music."
    triggers = ("A birthday cake.", "Friends around the table.", "Balloons.", "Music.")
    return [JudgeItem(f"s{i}", "The woman smiles at the party" + "!" * i, gt, triggers, "Happy") for i in range(n)]


def settings(model: Path, tmp_path: Path, **overrides) -> JudgeSettings:
    values = {"kind": "hf", "model": str(model), "max_tokens": 12, "batch_size": 3,
              "cache_dir": str(tmp_path / "cache"), "progress": False}
    values.update(overrides)
    return JudgeSettings.from_env(env={}, **values)


def test_batched_judging_reads_the_models_verdict(rigged_model, tmp_path) -> None:
    engine = build_engine(settings(rigged_model, tmp_path))
    engine.preflight()
    verdicts = engine.judge_many(items())
    assert [v.id for v in verdicts] == [f"s{i}" for i in range(5)]
    for verdict in verdicts:
        assert not verdict.judge_failed and VERDICT_TOKEN in verdict.raw
        assert (verdict.covered, verdict.total, verdict.judge_total, verdict.recall) == (1.0, 4, 2, 0.25)
    assert engine.judge.device == "cpu" and engine.judge.dtype == "float32"  # automatic on a CPU machine
    provenance = engine.summary()
    assert provenance["judge"] == "hf" and provenance["prompt"] == "paper_llama3"
    assert provenance["decoding"] == {"max_tokens": 12, "temperature": 0.0}

    again = engine.judge_many(items())
    assert all(v.cached for v in again)


def test_preflight_reads_config_tokenizer_and_template_but_not_the_weights(rigged_model, tmp_path) -> None:
    engine = build_engine(settings(rigged_model, tmp_path, cache=False))
    engine.preflight()
    assert not engine.judge.loaded  # lmms-eval runs preflight beside the evaluated model, on every rank
    assert not engine.judge_many(items(1))[0].judge_failed
    assert engine.judge.loaded  # loaded on the first batch

    no_weights = tmp_path / "no-weights"
    shutil.copytree(rigged_model, no_weights, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    lazy = build_engine(settings(no_weights, tmp_path, cache=False))
    lazy.preflight()  # would fail if it touched the weights
    with pytest.raises(PreflightError, match="weights.*no-weights"):
        lazy.judge_many(items(1))


def test_preflight_fails_on_a_model_without_chat_template(rigged_model, tmp_path) -> None:
    plain = tmp_path / "no-template"
    shutil.copytree(rigged_model, plain, ignore=shutil.ignore_patterns("chat_template.*"))
    config_file = plain / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config.pop("chat_template", None)
    config_file.write_text(json.dumps(config))
    engine = build_engine(settings(plain, tmp_path, cache=False))
    with pytest.raises(PreflightError, match="no chat template"):
        engine.preflight()
    assert not engine.judge.loaded


def test_batch_size_does_not_change_greedy_verdicts(rigged_model, tmp_path) -> None:
    one = HFJudge(settings(rigged_model, tmp_path, batch_size=1)).generate(items(3)[:1])
    many = HFJudge(settings(rigged_model, tmp_path)).generate(items(3))
    assert many[0] == one[0]


def test_trusting_the_judges_total(rigged_model, tmp_path) -> None:
    engine = build_engine(settings(rigged_model, tmp_path, trust_judge_total=True, cache=False))
    assert {v.recall for v in engine.judge_many(items(2))} == {0.5}


def test_unparseable_replies_of_a_random_model_are_failures(random_model, tmp_path) -> None:
    engine = build_engine(settings(random_model, tmp_path))
    verdicts = engine.judge_many(items(4))
    assert all(v.judge_failed and v.recall is None and "unparseable" in v.error for v in verdicts)
    assert all(v.attempts == 1 for v in verdicts)  # greedy: a retry would repeat the same reply
    assert len(engine.cache) == 0


def test_sampling_retries_unparseable_replies(random_model, tmp_path) -> None:
    judge = HFJudge(settings(random_model, tmp_path, temperature=0.1, parse_retries=2, cache=False))
    verdicts = judge.judge_batch(items(2))
    assert all(v.judge_failed and v.attempts == 3 for v in verdicts)
    assert judge.identity().reply_fields()["decoding"] == {"max_tokens": 12, "temperature": 0.1, "top_p": 0.9}


def test_missing_model_fails_preflight_naming_it(tmp_path) -> None:
    engine = build_engine(settings(tmp_path / "no-such-model", tmp_path))
    with pytest.raises(PreflightError, match="no-such-model"):
        engine.preflight()
