"""Long-term coherence (`coherence.py`): the official algorithm on a tiny random BERT and the `blank` sentencizer,
checked against a straightforward port of the official loop (one answer at a time), offline."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_bert import WORDS, save_tiny_bert

from lmms_eval_eibench import cli
from lmms_eval_eibench.scoring import coherence
from lmms_eval_eibench.scoring.coherence import CoherenceSettings, CoherenceSetupError, run_coherence


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert") / "bert")


@pytest.fixture(scope="session")
def scorer(tiny_bert):
    return coherence.CoherenceScorer(CoherenceSettings(model=str(tiny_bert), spacy_model="blank"), device="cpu")


def generated_answers(n: int, seed: int = 0) -> list[str]:
    """Answers of 0 to 7 sentences (some long enough to be truncated), empty ones and one-liners among them."""
    rng = random.Random(seed)
    answers = []
    for _ in range(n):
        sentences = []
        for _ in range(rng.choice([0, 1, 1, 2, 3, 4, 5, 7])):
            words = rng.choices(WORDS, k=rng.choice([3, 6, 10, 25, 80]))
            sentences.append(" ".join(words).capitalize() + rng.choice([".", "!", "?", "..."]))
        answers.append(rng.choice([" ", "\n"]).join(sentences))
    return answers


# What coherence rewards (issue 32): consecutive sentences alike. Prose answers written for these tests (never
# from the annotations), one sentence repeated, and near-duplicates (the same sentence, one word changed each time).
PROSE_ANSWERS = (
    ("The woman in the picture is smiling widely. Her friends have gathered around a table with a birthday cake. "
     "Someone is lighting the candles while the others clap. The warm light and the decorations suggest a party in "
     "her honour, so she feels happy and loved."),
    ("A man stands alone in the rain at a bus stop. His shoulders are slumped and he stares at the ground. The street "
     "behind him is empty and grey. He may have just received bad news, which would explain his sadness."),
    ("Two drivers are arguing in the middle of the road after a minor collision. One of them points at the dented car "
     "and shouts. The other has clenched fists and a red face. The damage and the blame make them both angry."),
    ("The crowd in the stadium jumps to its feet. Their team has just scored in the last minute of the final. People "
     "wave scarves, hug strangers and cheer. The tension of the match turns into excitement all at once."),
    ("A little girl holds a puppy for the first time. She laughs as it licks her face. Her parents watch from the "
     "sofa and smile. The new pet is a gift she had wanted for years."),
    ("An old man looks at a photograph on the kitchen table. It shows him with his late wife on their wedding day. "
     "His eyes are wet, but he is holding the frame gently. He misses her, and the memory makes him both sad and "
     "grateful."),
)
REPEATED_SENTENCE = "The woman is smiling because her friends surprised her with a birthday cake."


def repeated(sentence: str, n: int) -> str:
    """One sentence, n times: the same [CLS] vector for every sentence."""
    return " ".join([sentence] * n)


def near_duplicates(sentence: str, n: int) -> str:
    """n copies of a sentence, the k-th with its k-th word (cycling) replaced by another: no two sentences equal."""
    words = sentence.rstrip(".").split()
    others = ("man", "child", "crying", "family", "party", "gift", "dog", "laughing", "cheering", "happy", "crowd",
              "game", "tears", "angry", "friend")  # 15 against the sentence's 14 words: no pair repeats before 210
    copies = []
    for k in range(n):
        changed = list(words)
        position = k % len(words)
        changed[position] = others[k % len(others)] if changed[position] != others[k % len(others)] else "someone"
        copies.append(" ".join(changed) + ".")
    return " ".join(copies)


def official_port(answers: list[str], model_dir: Path) -> tuple[float | None, int]:
    """The official long_term_scores.py loop as its README describes it, one answer at a time (written for this
    test): sentences, one padded batch per answer, [CLS] of last_hidden_state, mean cosine of consecutive pairs,
    `if coherence_score:` before averaging. Returns (fraction, answers kept)."""
    import spacy
    import torch
    from transformers import BertModel, BertTokenizer

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    tokenizer = BertTokenizer.from_pretrained(str(model_dir))
    model = BertModel.from_pretrained(str(model_dir)).eval()
    kept = []
    for answer in answers:
        sentences = [sentence.text for sentence in nlp(answer).sents]
        if len(sentences) < 2:
            continue
        inputs = tokenizer(sentences, return_tensors="pt", padding=True, truncation=True)
        with torch.no_grad():
            embeddings = model(**inputs).last_hidden_state[:, 0, :]
        similarities = [torch.nn.functional.cosine_similarity(embeddings[i].unsqueeze(0),
                                                              embeddings[i + 1].unsqueeze(0)).item()
                        for i in range(len(sentences) - 1)]
        coherence_score = sum(similarities) / len(similarities)
        if coherence_score:
            kept.append(coherence_score)
    return (sum(kept) / len(kept) if kept else None), len(kept)


def test_batched_scores_equal_the_official_loop(scorer, tiny_bert) -> None:
    answers = generated_answers(300)
    result = scorer.score(answers)
    expected, n_kept = official_port(answers, tiny_bert)
    assert result.n == 300 and result.n_scored == n_kept
    assert 0 < n_kept < 300  # some answers have fewer than 2 sentences
    assert result.coherence == pytest.approx(100 * expected, abs=1e-4)  # 1e-6 as a fraction


def test_per_answer_scores_and_padding_do_not_change_a_cls_vector(scorer) -> None:
    answers = generated_answers(60, seed=3)
    one_by_one = [scorer.answer_scores([answer])[0] for answer in answers]
    batched = scorer.answer_scores(answers, batch_sentences=7)
    for alone, together in zip(one_by_one, batched):
        assert (alone is None) == (together is None)
        if alone is not None:
            assert together == pytest.approx(alone, abs=1e-6)
    short, long_ = "A smile.", " ".join(["people"] * 40) + "."
    assert scorer.embed([short, long_])[0].tolist() == pytest.approx(scorer.embed([short])[0].tolist(), abs=1e-5)


def test_zero_one_and_many_sentences(scorer) -> None:
    scores = scorer.answer_scores(["", "   ", "One sentence only.", "A smile. A crowd cheering. The cake."])
    assert scores[:3] == [None, None, None]  # empty, blank and one-sentence answers are not scored
    assert -1.0 <= scores[3] <= 1.0
    assert run_coherence(scores).n_scored == 1 and run_coherence(scores).n == 4


def test_the_run_score_drops_exact_zero_like_the_official_script() -> None:
    result = run_coherence([0.5, 0.0, None, 0.7])
    assert result.n_scored == 2 and result.n == 4
    assert result.coherence == pytest.approx(60.0)
    assert run_coherence([None, 0.0]).coherence is None


def test_a_missing_spacy_model_says_how_to_get_it(tiny_bert) -> None:
    import spacy

    if spacy.util.is_package("en_core_web_sm"):
        pytest.skip("en_core_web_sm is installed here: nothing is missing")
    with pytest.raises(CoherenceSetupError, match=r"python -m spacy download en_core_web_sm.*blank"):
        coherence.CoherenceScorer(CoherenceSettings(model=str(tiny_bert), spacy_model="en_core_web_sm"))


def test_settings_from_the_environment() -> None:
    assert CoherenceSettings.from_env({}) is None
    assert CoherenceSettings.from_env({"EIBENCH_COHERENCE": "1"}) == CoherenceSettings()
    assert CoherenceSettings.from_env({"EIBENCH_COHERENCE_SPACY": "blank"}) == CoherenceSettings(spacy_model="blank")
    assert CoherenceSettings.from_env({"EIBENCH_COHERENCE_MODEL": "m", "EIBENCH_COHERENCE": "0"}) is None
    with pytest.raises(ValueError, match="EIBENCH_COHERENCE"):
        CoherenceSettings.from_env({"EIBENCH_COHERENCE": "maybe"})


def test_bar_the_command_on_300_answers_equals_the_official_loop(tiny_bert, tmp_path, capsys) -> None:
    answers = generated_answers(300, seed=7)
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps({f"img/{i}.jpg": a}) + "\n" for i, a in enumerate(answers)), encoding="utf-8")
    code = cli.main(["coherence", str(path), "--model", str(tiny_bert), "--spacy-model", "blank", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)
    expected, n_kept = official_port(answers, tiny_bert)
    assert data["n"] == 300 and data["n_scored"] == n_kept
    assert data["coherence"] == pytest.approx(100 * expected, abs=1e-3)
    assert data["model"] == str(tiny_bert) and data["spacy_model"] == "blank"


def test_the_command_reads_lmms_eval_samples(tiny_bert, tmp_path, capsys) -> None:
    answers = generated_answers(20, seed=9)
    path = tmp_path / "x_samples_eibench_basic.jsonl"
    path.write_text("".join(json.dumps({"doc_id": i, "doc": {"id": f"img/{i}.jpg"}, "filtered_resps": [a]}) + "\n"
                            for i, a in enumerate(answers)), encoding="utf-8")
    assert cli.main(["coherence", str(path), "--model", str(tiny_bert), "--spacy-model", "blank", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected, n_kept = official_port(answers, tiny_bert)
    assert data["n"] == 20 and data["n_scored"] == n_kept
    assert data["coherence"] == pytest.approx(100 * expected, abs=1e-3)


def test_the_command_names_bad_input_and_missing_models(tiny_bert, tmp_path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a.jpg": "fine."}\n[1, 2]\n', encoding="utf-8")
    assert cli.main(["coherence", str(bad), "--model", str(tiny_bert), "--spacy-model", "blank"]) == 2
    assert f"{bad}:2" in capsys.readouterr().err
    good = tmp_path / "good.jsonl"
    good.write_text('{"a.jpg": "One. Two."}\n', encoding="utf-8")
    assert cli.main(["coherence", str(good), "--model", str(tmp_path / "no-model"), "--spacy-model", "blank"]) == 1
    err = capsys.readouterr().err
    assert "cannot load the BERT model" in err and "Traceback" not in err


# --- lmms-eval: eibench_coherence with EIBENCH_COHERENCE=1 -------------------------------------------------------

RESPONSE = "The woman smiles at the cake. Her family is cheering. It is a birthday party"  # no comma: --model_args


@pytest.mark.slow
def test_lmms_eval_reports_coherence_with_its_models_in_the_provenance(sample_dataset_dir, tiny_bert, tmp_path,
                                                                      capsys):
    from test_lmms_e2e import results_of, run_lmms, samples_of

    env = {"EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_JUDGE": "embedding",
           "EIBENCH_CACHE_DIR": str(tmp_path / "cache"), "EIBENCH_COHERENCE": "1",
           "EIBENCH_COHERENCE_MODEL": str(tiny_bert), "EIBENCH_COHERENCE_SPACY": "blank"}
    run_lmms("eibench_complex", tmp_path / "out", env, "--log_samples", "--model_args", f"response={RESPONSE}")
    results = results_of(tmp_path / "out")
    samples = samples_of(tmp_path / "out", "eibench_complex")
    value = results["results"]["eibench_complex"]["eibench_coherence,none"]
    expected, n_kept = official_port([s["filtered_resps"] for s in samples], tiny_bert)
    assert n_kept == len(samples)
    assert value == pytest.approx(100 * expected, abs=1e-3)
    # each sample's item is on the run's 0-100 scale, so lmms-eval's CLT stderr over the items is too
    import statistics

    items = [s["eibench_coherence"] for s in samples]
    assert statistics.fmean(items) == pytest.approx(value, abs=1e-9)
    stderr = results["results"]["eibench_complex"]["eibench_coherence_stderr_clt,none"]
    assert stderr == pytest.approx(statistics.stdev(items) / len(items) ** 0.5, rel=1e-9)
    record = results["configs"]["eibench_complex"]["metadata"]["eibench_provenance"]
    assert record["coherence"] == {"model": str(tiny_bert), "spacy_model": "blank"}
    [results_file] = (tmp_path / "out").rglob("*_results.json")
    assert cli.main(["report", str(results_file), "--format", "csv"]) == 0
    import csv
    import io

    row = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert float(row["complex_coherence"]) == pytest.approx(value, abs=1e-4)

    run_lmms("eibench_complex", tmp_path / "plain", {**env, "EIBENCH_COHERENCE": "0"}, "--model_args",
             f"response={RESPONSE}")
    plain = results_of(tmp_path / "plain")
    assert not any("coherence" in key for key in plain["results"]["eibench_complex"])
    assert "coherence" not in plain["configs"]["eibench_complex"]["metadata"]["eibench_provenance"]


@pytest.mark.slow
def test_lmms_eval_stops_before_generation_without_the_spacy_model(sample_dataset_dir, tiny_bert, tmp_path):
    from test_lmms_e2e import run_lmms

    proc = run_lmms("eibench_complex", tmp_path / "out", {
        "EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_JUDGE": "embedding", "EIBENCH_COHERENCE": "1",
        "EIBENCH_COHERENCE_MODEL": str(tiny_bert), "EIBENCH_COHERENCE_SPACY": "xx_no_such_pipeline"}, check=False)
    assert "python -m spacy download xx_no_such_pipeline" in proc.stdout + proc.stderr
    assert not list((tmp_path / "out").rglob("*_results.json"))


def test_a_repeated_sentence_scores_at_least_as_high_as_prose(tiny_bert, tmp_path, capsys) -> None:
    """Coherence compares consecutive sentences only: one sentence repeated is 100 whatever the model (the same
    sentence, the same vector), at least what prose gets. Through the command, on the tests' tiny BERT."""
    def coherence_of(answers: list[str], name: str) -> float:
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({f"img/{i}.jpg": a}) + "\n" for i, a in enumerate(answers)),
                        encoding="utf-8")
        assert cli.main(["coherence", str(path), "--model", str(tiny_bert), "--spacy-model", "blank", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["n_scored"] == len(answers)
        return data["coherence"]

    prose = coherence_of(list(PROSE_ANSWERS), "prose")
    for n in (2, 5, 20):
        assert coherence_of([repeated(REPEATED_SENTENCE, n)], f"repeated-{n}") == pytest.approx(100.0, abs=1e-3)
    # the tiny random BERT gives nearly one [CLS] vector to any sentence (prose 99.9999 on it): only "at least as
    # high" holds here; bench/bench_coherence.py measures the gap on a trained model (docs/judging.md)
    assert coherence_of([repeated(REPEATED_SENTENCE, 5)], "repeated") >= prose
    # near-duplicates are scored too (no two of their sentences equal)
    assert len(set(near_duplicates(REPEATED_SENTENCE, 20).split(". "))) == 20
