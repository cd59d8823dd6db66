"""Answer length beside every score, and the opt-in word budget (`eibench score --word-budget N`,
`EIBENCH_WORD_BUDGET=N` in lmms-eval): answers within the budget keep their verdict with no request; longer ones
are cut and judged again, so a long image-blind list cannot buy recall under the budget."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_server import FakeJudgeConfig, judge_server

from lmms_eval_eibench import cli

BUDGET = 25


@pytest.fixture(scope="module")
def basic(official_records):
    return official_records.basic[::40]  # 41 samples across the four categories


@pytest.fixture(scope="module")
def judge():
    with judge_server(FakeJudgeConfig()) as server:
        yield server


@pytest.fixture(autouse=True)
def judge_key(judge, monkeypatch):
    monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", judge.api_key)


def write_answers(path: Path, pairs) -> Path:
    path.write_text("".join(json.dumps({image: answer}) + "\n" for image, answer in pairs), encoding="utf-8")
    return path


def score(args: list[str], capsys) -> tuple[int, dict, str]:
    code = cli.main(["score", *args, "--allow-partial", "--json", "--no-progress"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


def short_answer(record) -> str:
    """An honest-looking short answer: the sample's own first trigger (a few words)."""
    return record.triggers[0]


def blind_list(records, n: int = 60) -> str:
    """One image-blind answer for every sample: the most frequent triggers of the whole slice, a long list."""
    counts = Counter(t.lower() for r in records for t in r.triggers)
    return "; ".join(t for t, _ in counts.most_common(n)) + "."


def loopback_args(judge, official_dir: Path, cache: Path) -> list[str]:
    return ["--subset", "basic", "--annotations", str(official_dir), "--base-url", judge.base_url,
            "--judge-model", judge.model, "--cache-dir", str(cache)]


def test_answer_words_is_the_mean_length_with_failures_as_zero(basic, official_dir, tmp_path, capsys) -> None:
    answers = ["one two three", "", "a b c d e f g", "x"]  # the empty answer is a generation failure: 0 words
    path = write_answers(tmp_path / "a.jsonl", [(r.image_path, answers[i % 4]) for i, r in enumerate(basic[:8])])
    code, data, err = score([str(path), "--subset", "basic", "--annotations", str(official_dir), "--judge",
                             "embedding", "--no-cache"], capsys)
    assert code == 0, err
    assert data["answer_words"] == pytest.approx((3 + 0 + 7 + 1) / 4)
    assert "word_budget" not in data and "overall_at_budget" not in data
    assert "word_budget" not in data["provenance"]
    (tmp_path / "score.json").write_text(json.dumps(data), encoding="utf-8")
    assert cli.main(["report", str(tmp_path / "score.json"), "--format", "csv"]) == 0
    row = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert float(row["basic_answer_words"]) == pytest.approx(data["answer_words"])


def test_within_budget_every_verdict_is_reused_without_a_request(basic, official_dir, judge, tmp_path,
                                                                 capsys) -> None:
    path = write_answers(tmp_path / "short.jsonl", [(r.image_path, short_answer(r)) for r in basic])
    assert all(len(short_answer(r).split()) <= BUDGET for r in basic)
    before = judge.stats.chat_requests
    # --no-cache: the reuse is by verdict, not by the cache answering the same prompt twice
    code, data, err = score([str(path), *loopback_args(judge, official_dir, tmp_path / "c"), "--no-cache",
                             "--word-budget", str(BUDGET)], capsys)
    assert code == 0, err
    assert judge.stats.chat_requests - before == len(basic)  # one request per sample, none for the budget
    assert data["overall_at_budget"] == data["overall"] and data["overall"] > 0
    assert data["word_budget"] == BUDGET and data["provenance"]["word_budget"] == BUDGET


def test_a_long_blind_list_wins_without_a_budget_and_loses_with_one(basic, official_dir, judge, tmp_path,
                                                                   capsys) -> None:
    """Issue 25's table at small scale: the same long list for every sample beats short honest answers on recall,
    and falls below them once every answer is cut to the budget."""
    blind = blind_list(basic)
    assert len(blind.split()) > 5 * BUDGET
    cache = tmp_path / "c"
    honest_path = write_answers(tmp_path / "honest.jsonl", [(r.image_path, short_answer(r)) for r in basic])
    blind_path = write_answers(tmp_path / "blind.jsonl", [(r.image_path, blind) for r in basic])
    _, honest, _ = score([str(honest_path), *loopback_args(judge, official_dir, cache), "--word-budget",
                          str(BUDGET)], capsys)
    before = judge.stats.chat_requests
    code, long_list, err = score([str(blind_path), *loopback_args(judge, official_dir, cache), "--word-budget",
                                  str(BUDGET)], capsys)
    assert code == 0, err
    assert judge.stats.chat_requests - before == 2 * len(basic)  # every answer is over budget: judged twice
    assert long_list["overall"] > honest["overall"]
    assert long_list["overall_at_budget"] < honest["overall_at_budget"]
    assert long_list["overall_at_budget"] < long_list["overall"] / 2
    assert long_list["answer_words"] > 5 * honest["answer_words"]



@pytest.mark.parametrize("glue", ["\u200b", "\u2060", "\u00ad", ","], ids=["zwsp", "word-joiner", "soft-hyphen",
                                                                       "comma"])
def test_glued_words_are_counted_and_cut_like_spaced_ones(glue, basic, official_dir, judge, tmp_path,
                                                         capsys) -> None:
    """Issue 32: a long list glued by an invisible character (or commas without spaces) was one word to the old
    rule (str.split), so the budget never cut it and it kept all its recall at the budget."""
    words = blind_list(basic).split()
    cache = tmp_path / "c"
    scored = {}
    for name, answer in (("spaced", " ".join(words)), ("glued", glue.join(words))):
        assert name == "spaced" or len(answer.split()) == 1  # one "word" to the old rule
        path = write_answers(tmp_path / f"{name}.jsonl", [(r.image_path, answer) for r in basic])
        before = judge.stats.chat_requests
        code, scored[name], err = score([str(path), *loopback_args(judge, official_dir, cache), "--word-budget",
                                         str(BUDGET)], capsys)
        assert code == 0, err
        assert judge.stats.chat_requests - before == 2 * len(basic)  # over the budget: cut and judged again
    spaced, glued = scored["spaced"], scored["glued"]
    assert glued["answer_words"] == pytest.approx(spaced["answer_words"], rel=0.10)
    assert glued["answer_words"] > 5 * BUDGET
    assert glued["overall_at_budget"] <= spaced["overall_at_budget"]
    assert glued["overall_at_budget"] < glued["overall"] / 2  # the cut takes its recall back
    assert glued["provenance"]["word_rule"] == "2"

def test_the_cut_answers_are_cached_like_any_other(basic, official_dir, judge, tmp_path, capsys) -> None:
    blind = blind_list(basic)
    path = write_answers(tmp_path / "blind.jsonl", [(r.image_path, blind) for r in basic[:5]])
    args = [str(path), *loopback_args(judge, official_dir, tmp_path / "c"), "--word-budget", str(BUDGET)]
    _, first, _ = score(args, capsys)
    before = judge.stats.chat_requests
    code, again, err = score([*args, "--from-cache"], capsys)
    assert code == 0, err
    assert judge.stats.chat_requests == before
    assert again["overall_at_budget"] == first["overall_at_budget"]


@pytest.mark.parametrize("value", ["0", "-3", "ten", "2.5"])
def test_a_bad_budget_names_the_flag_and_judges_nothing(value, basic, official_dir, judge, tmp_path,
                                                       capsys) -> None:
    path = write_answers(tmp_path / "a.jsonl", [(r.image_path, "x") for r in basic[:2]])
    before = judge.stats.chat_requests
    code, _, err = score([str(path), *loopback_args(judge, official_dir, tmp_path / "c"), f"--word-budget={value}"],
                         capsys)
    assert code == 2 and "--word-budget" in err and "positive whole number" in err and "Traceback" not in err
    assert judge.stats.chat_requests == before


def test_a_budget_needs_answers_not_saved_replies(basic, official_dir, tmp_path, capsys) -> None:
    path = write_answers(tmp_path / "replies.jsonl", [(r.image_path, "{score: 1/2}") for r in basic[:2]])
    code, _, err = score(["--from-verdicts", str(path), "--subset", "basic", "--annotations", str(official_dir),
                          "--word-budget", "50"], capsys)
    assert code == 2 and "--from-verdicts" in err and "--word-budget" in err


def test_the_table_shows_length_and_the_budget(basic, official_dir, tmp_path, capsys) -> None:
    path = write_answers(tmp_path / "a.jsonl", [(r.image_path, short_answer(r)) for r in basic[:4]])
    code = cli.main(["score", str(path), "--subset", "basic", "--annotations", str(official_dir), "--judge",
                     "embedding", "--no-cache", "--no-progress", "--allow-partial", "--word-budget", "100"])
    out = capsys.readouterr().out
    assert code == 0
    assert "At 100 words" in out and "Answer words" in out


# --- lmms-eval: eibench_answer_words always, <m>_at_budget with EIBENCH_WORD_BUDGET ------------------------------

LONG_ANSWER = ("It is as it is so to me and a friend is telling a joke next to a birthday cake while the family gathers around the table and "
               "people cheering with balloons and a crowd of relatives laughing at a celebration in a warm room")
# (no comma: lmms-eval's --model_args splits on commas; the first 6 words have no 5-letter word the loopback judge
# could match, the rest covers triggers of the sample basic set)


@pytest.mark.slow
def test_lmms_eval_reports_length_and_the_budget(sample_dataset_dir, judge, tmp_path) -> None:
    from test_lmms_e2e import judge_env, results_of, run_lmms, samples_of

    env = {"EIBENCH_DATASET": str(sample_dataset_dir), **judge_env(judge, tmp_path / "c"), "EIBENCH_NO_CACHE": "1",
           "EIBENCH_WORD_BUDGET": "6"}
    before = judge.stats.chat_requests
    run_lmms("eibench_basic", tmp_path / "out", env, "--log_samples", "--model_args", f"response={LONG_ANSWER}")
    results = results_of(tmp_path / "out")
    task = results["results"]["eibench_basic"]
    samples = samples_of(tmp_path / "out", "eibench_basic")
    assert task["eibench_answer_words,none"] == len(LONG_ANSWER.split())
    assert all(s["eibench_answer_words"] == len(LONG_ANSWER.split()) for s in samples)
    at_budget = [s["eibench_recall_at_budget"] for s in samples]
    assert task["eibench_recall_at_budget,none"] == pytest.approx(sum(at_budget) / len(at_budget))
    assert task["eibench_recall_at_budget,none"] < task["eibench_recall,none"]
    assert judge.stats.chat_requests - before == 2 * len(samples)  # the whole answer, then its first 6 words
    assert results["configs"]["eibench_basic"]["metadata"]["eibench_provenance"]["word_budget"] == 6

    # no budget: the length is still there, and no figure pretends to be a budget's
    run_lmms("eibench_complex", tmp_path / "plain", {**env, "EIBENCH_WORD_BUDGET": ""}, "--model_args",
             f"response={LONG_ANSWER}")
    plain = results_of(tmp_path / "plain")
    assert plain["results"]["eibench_complex"]["eibench_answer_words,none"] == len(LONG_ANSWER.split())
    assert not any("at_budget" in key for key in plain["results"]["eibench_complex"])
    assert "word_budget" not in plain["configs"]["eibench_complex"]["metadata"]["eibench_provenance"]


@pytest.mark.slow
def test_lmms_eval_refuses_a_bad_budget_before_generation(sample_dataset_dir, tmp_path) -> None:
    from test_lmms_e2e import run_lmms

    proc = run_lmms("eibench_complex", tmp_path / "out", {"EIBENCH_DATASET": str(sample_dataset_dir),
                                                          "EIBENCH_JUDGE": "embedding", "EIBENCH_WORD_BUDGET": "lots"},
                    check=False)
    assert "EIBENCH_WORD_BUDGET" in proc.stdout + proc.stderr
    assert not list((tmp_path / "out").rglob("*_results.json"))
