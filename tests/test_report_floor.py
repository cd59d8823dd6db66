"""`eibench report --with-blind`: the image-blind floor, scored by the runs' own judge beside them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attacks import ATTACK_CUES
from judge_server import FakeJudgeConfig, judge_server

from lmms_eval_eibench import cli
from lmms_eval_eibench.report.floor import FLOOR_MODEL
from lmms_eval_eibench.scoring.blind import blind_answer


@pytest.fixture(scope="module")
def judge():
    with judge_server(FakeJudgeConfig()) as server:
        yield server


@pytest.fixture(autouse=True)
def judge_env(judge, monkeypatch, tmp_path):
    monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", judge.api_key)
    monkeypatch.setenv("EIBENCH_JUDGE_BASE_URL", judge.base_url)  # a results file never chooses the endpoint
    monkeypatch.setenv("EIBENCH_CACHE_DIR", str(tmp_path / "cache"))


def score_file(records, answer_of, official_dir: Path, judge, path: Path, capsys) -> dict:
    """`eibench score --json` of the complex subset, each sample answered by `answer_of(record)`."""
    answers = path.with_suffix(".jsonl")
    answers.write_text("".join(json.dumps({r.image_path: answer_of(r)}) + "\n" for r in records), encoding="utf-8")
    code = cli.main(["score", str(answers), "--subset", "complex", "--annotations", str(official_dir),
                     "--base-url", judge.base_url, "--judge-model", judge.model, "--json", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    path.write_text(out, encoding="utf-8")
    return json.loads(out)


def report_rows(args: list[str], capsys) -> tuple[int, dict[str, dict[str, str]], str]:
    code = cli.main(["report", *args])
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.startswith("|")]
    if not lines:
        return code, {}, err
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = dict(zip(header, (c.strip() for c in line.strip("|").split("|"))))
        rows[cells["Model"]] = cells
    return code, rows, err


def test_the_floor_row_is_the_blind_answer_scored_by_the_runs_judge(official_records, official_dir, judge, tmp_path,
                                                                    capsys) -> None:
    run = score_file(official_records.complex, lambda r: r.triggers[0], official_dir, judge, tmp_path / "run.json",
                     capsys)
    floor_answer = blind_answer([r.as_row() for r in official_records.basic])
    direct = score_file(official_records.complex, lambda r: floor_answer, official_dir, judge,
                        tmp_path / "floor.json", capsys)
    code, rows, err = report_rows([str(tmp_path / "run.json"), "--with-blind", "--annotations", str(official_dir)],
                                  capsys)
    assert code == 0, err
    floor = rows[FLOOR_MODEL]
    assert floor["Complex Recall"].startswith(f"{direct['overall']:.2f}")
    assert floor["Words"] == f"{len(floor_answer.split())}"
    assert floor["Judge"] == rows[next(m for m in rows if m != FLOOR_MODEL)]["Judge"]  # the run's own judge
    assert "never looking at an image" in err
    assert direct["overall"] > 0 and run["overall"] > 0


def test_without_a_recorded_judge_there_is_no_floor(capsys) -> None:
    code, _, err = report_rows(["--with-paper", "--with-blind"], capsys)
    assert code == 2 and "records its judge" in err


def test_a_judge_that_cannot_be_rebuilt_as_recorded_is_refused(official_records, official_dir, judge, tmp_path,
                                                              capsys) -> None:
    run = score_file(official_records.complex, lambda r: r.triggers[0], official_dir, judge, tmp_path / "run.json",
                     capsys)
    run["provenance"]["judge"]["options"] = {**(run["provenance"]["judge"]["options"] or {}), "style": "lenient"}
    (tmp_path / "run.json").write_text(json.dumps(run), encoding="utf-8")
    before = judge.stats.chat_requests
    code, _, err = report_rows([str(tmp_path / "run.json"), "--with-blind", "--annotations", str(official_dir)],
                               capsys)
    assert code == 2 and "not the recorded one" in err and "Traceback" not in err
    assert judge.stats.chat_requests == before


def test_ground_truth_options_need_with_blind(capsys, tmp_path) -> None:
    code, _, err = report_rows(["--with-paper", "--annotations", str(tmp_path)], capsys)
    assert code == 2 and "--with-blind" in err




def embedding_score(records, answer: str, official_dir: Path, path: Path, capsys, *budget: str) -> dict:
    """`eibench score --json` of the complex subset with the offline embedding judge, one answer for every sample."""
    answers = path.with_suffix(".jsonl")
    answers.write_text("".join(json.dumps({r.image_path: answer}) + "\n" for r in records), encoding="utf-8")
    code = cli.main(["score", str(answers), "--subset", "complex", "--annotations", str(official_dir),
                     "--judge", "embedding", "--json", "--no-progress", *budget])
    out, err = capsys.readouterr()
    assert code == 0, err
    path.write_text(out, encoding="utf-8")
    return json.loads(out)


def test_at_a_budget_the_floor_is_at_least_a_packed_list_of_generic_cues(official_records, official_dir, tmp_path,
                                                                        capsys) -> None:
    from lmms_eval_eibench.scoring.blind import packed_answer

    attack = packed_answer(ATTACK_CUES, 100)
    scored = embedding_score(official_records.complex, attack, official_dir, tmp_path / "attack.json", capsys,
                             "--word-budget", "100")
    assert scored["overall_at_budget"] == scored["overall"]  # packed within the budget: never cut
    code = cli.main(["report", str(tmp_path / "attack.json"), "--with-blind", "--annotations", str(official_dir),
                     "--summary", str(tmp_path / "summary.json"), "--format", "csv"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = json.loads((tmp_path / "summary.json").read_text())["entries"]
    [floor] = [r for r in rows if r["model"] == FLOOR_MODEL]
    at_budget = floor["complex"]["at_budget"]
    assert at_budget["word_budget"] == 100
    # the floor at the budget is a floor: no image-blind packed list beats it there
    assert at_budget["recall"]["value"] >= scored["overall_at_budget"] > 0
    # and it is more than the 593-word list cut to 100 words would show
    assert "at 100 words: the best of the blind answers is" in out + err
