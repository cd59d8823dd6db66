"""No wrong number is printed (issue 31), through the real `eibench` CLI and the loopback judge on 127.0.0.1:
the benchmark's own questions file is refused as answers (naming it, no request), an answer that echoes its
question scores 0 unjudged; the question-keyed complex form matches answers by question (an oracle file keeps
100.00 with its lines reversed; the plain form maps by order); `eibench report` refuses out-of-range values naming
the file and key. (The coherence stderr's scale and the --baseline Diff of eibench_paired_score are checked on real
lmms-eval runs in tests/test_coherence.py and tests/test_lmms_compare.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from judge_server import FakeJudgeConfig, judge_server

from lmms_eval_eibench.cli import main
from lmms_eval_eibench.data.records import load_records
from lmms_eval_eibench.data.sample import SAMPLE_DIR

FIXTURES = Path(__file__).parent / "fixtures" / "report"
RESULTS = next((FIXTURES / "run_gpt").rglob("*_results.json"))


@pytest.fixture
def judge(monkeypatch):
    with judge_server(FakeJudgeConfig()) as server:
        monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", server.api_key)
        yield server


def score(judge, answers: Path, subset: str, annotations: Path, tmp_path: Path, capsys, *extra: str):
    code = main(["score", str(answers), "--subset", subset, "--annotations", str(annotations), "--base-url",
                 judge.base_url, "--judge-model", judge.model, "--cache-dir", str(tmp_path / "cache"),
                 "--no-progress", "--json", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_official_questions_file_is_refused_as_answers(judge, official_dir, tmp_path, capsys):
    questions = official_dir / "EI_Basic" / "user.jsonl"
    code, out, err = score(judge, questions, "basic", official_dir, tmp_path, capsys)
    assert code == 2 and out == "" and "Traceback" not in err, err
    assert f"{questions}:1: every answer (1615) is its question word for word" in err, err
    assert "score the file of the model's answers" in err
    assert judge.stats.chat_requests == 0


def test_an_answer_echoing_its_question_scores_0_unjudged(judge, tmp_path, capsys):
    basic = load_records(SAMPLE_DIR).subset("basic")
    echoed = {r.id for r in basic[:3]}
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({r.id: r.question if r.id in echoed else r.ground_truth}) + "\n"
                               for r in basic))
    verdicts = tmp_path / "verdicts.jsonl"
    code, out, err = score(judge, answers, "basic", SAMPLE_DIR, tmp_path, capsys, "-o", str(verdicts))
    assert code == 0, err
    assert judge.stats.chat_requests == len(basic) - len(echoed)  # the echoes never reach the judge
    asked = "\n".join(judge.stats.prompts_answered)
    assert not any(r.question in asked for r in basic if r.id in echoed)
    data = json.loads(out)
    assert data["overall"] == pytest.approx(100.0 * (len(basic) - len(echoed)) / len(basic))
    lines = {line["id"]: line for line in map(json.loads, verdicts.read_text().splitlines())}
    for sample_id in echoed:
        line = lines[sample_id]
        # not judged (no recall, no reply), counted as a failure: 0 in the overall
        assert line["recall"] is None and line["generation_failed"] and not line["raw"], line
        assert "its question word for word" in line["error"], line
    assert "the question repeated word for word" in err


def oracle(records, keyed: bool) -> list[str]:
    """Each complex question answered with its ground truth, plain (by order) or question-keyed."""
    return [json.dumps({r.image_path: {r.question: r.ground_truth} if keyed else r.ground_truth}) for r in records]


def test_question_keyed_complex_answers_match_by_question_in_any_order(judge, official_dir, official_records,
                                                                       tmp_path, capsys):
    records = official_records.complex
    assert len({r.image_path for r in records}) < len(records)  # images with several questions: order matters
    keyed = tmp_path / "keyed_reversed.jsonl"
    keyed.write_text("\n".join(reversed(oracle(records, keyed=True))) + "\n")
    code, out, err = score(judge, keyed, "complex", official_dir, tmp_path, capsys)
    assert code == 0, err
    assert json.loads(out)["overall"] == pytest.approx(100.0)
    # the plain form maps the k-th line of an image to its k-th question: reversed, answers meet other questions
    plain = tmp_path / "plain_reversed.jsonl"
    plain.write_text("\n".join(reversed(oracle(records, keyed=False))) + "\n")
    code, out, err = score(judge, plain, "complex", official_dir, tmp_path, capsys)
    assert code == 0, err
    assert json.loads(out)["overall"] < 100.0
    # in order, the plain form is the oracle again
    ordered = tmp_path / "plain.jsonl"
    ordered.write_text("\n".join(oracle(records, keyed=False)) + "\n")
    code, out, err = score(judge, ordered, "complex", official_dir, tmp_path, capsys)
    assert code == 0 and json.loads(out)["overall"] == pytest.approx(100.0), err


def edited(tmp_path: Path, change) -> Path:
    data = json.loads(RESULTS.read_text())
    change(data)
    folder = tmp_path / "run" / RESULTS.parent.name
    folder.mkdir(parents=True)
    path = folder / RESULTS.name
    path.write_text(json.dumps(data))
    return path


def set_in(*keys_and_value):
    *keys, value = keys_and_value

    def change(data):
        for key in keys[:-1]:
            data = data[key]
        data[keys[-1]] = value
    return change


@pytest.mark.parametrize("change, key, value", [
    (set_in("results", "eibench_basic", "eibench_recall,none", 150), "eibench_basic.eibench_recall", "150"),
    (set_in("results", "eibench_complex", "eibench_recall,none", -50), "eibench_complex.eibench_recall", "-50"),
    (set_in("results", "eibench_basic", "eibench_judge_failures,none", -5), "eibench_judge_failures", "-5"),
    (set_in("n-samples", "eibench_basic", "effective", -5), "n-samples.eibench_basic.effective", "-5"),
])
def test_report_refuses_out_of_range_values_in_a_results_file(tmp_path, capsys, change, key, value):
    path = edited(tmp_path, change)
    code = main(["report", str(path)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and "Traceback" not in captured.err, captured.err
    assert str(path) in captured.err and key in captured.err and f"{value} is out of range" in captured.err, (
        captured.err)


@pytest.mark.parametrize("key, value", [("overall", 150), ("overall", -50), ("n_failed", -5)])
def test_report_refuses_out_of_range_values_in_a_score_output(tmp_path, capsys, key, value):
    data = json.loads((FIXTURES / "score_embedding.json").read_text())
    data[key] = value
    path = tmp_path / "score.json"
    path.write_text(json.dumps(data))
    code = main(["report", str(path)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and "Traceback" not in captured.err, captured.err
    assert f"{path}" in captured.err and key in captured.err and f"{value} is out of range" in captured.err, (
        captured.err)


def test_a_folder_with_an_out_of_range_file_is_refused_too(tmp_path, capsys):
    path = edited(tmp_path, set_in("results", "eibench_basic", "eibench_recall,none", 150))
    shutil.copy(FIXTURES / "score_embedding.json", tmp_path / "run" / "score.json")
    code = main(["report", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert code == 2 and str(path) in captured.err and "150 is out of range" in captured.err, captured.err
