"""Issue 26's attacks end to end: answers carrying the loopback judge's own wording (D1), decoy totals (D2) and
braced scores beside an unbraced verdict (D3), scored by the real `eibench score` against the loopback judge.
No sample may rise above what the judge wrote, and the bar: on 300 answers with hidden D1 and D2 plants, under
the judge's `first` and `mix` styles, overall stays within 2 points of the same answers without plants."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attacks import HIDDEN_SHAPES, d1, d2, d3, hidden, mixed_answers
from judge_server import PAPER_STYLES, _covered, folded, judge_server
from test_score_integrity import judge_args, run, samples_file


def score_rows(records, answers, style: str, tmp_path: Path, official_dir: Path, capsys, monkeypatch,
               *extra: str, server=None, **judge) -> tuple[dict, list[dict]]:
    """`eibench score` of these answers against the loopback judge in `style` (`server`: one already running;
    `extra`: more flags; without `--cache-dir` among them, no cache)."""
    if server is None:
        with judge_server(reply_style=style, **judge) as started:
            return score_rows(records, answers, style, tmp_path, official_dir, capsys, monkeypatch, *extra,
                              server=started)
    out_file = tmp_path / f"v-{style}.jsonl"
    folder = tmp_path / f"in-{style}-{len(list(tmp_path.iterdir()))}"
    cache = [] if "--cache-dir" in extra else ["--no-cache"]
    monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", server.api_key)
    server.reset_stats()
    code, data, err = run([str(samples_file(folder, "eibench_basic", records, answers)), "--annotations",
                           str(official_dir), "--allow-partial", *cache, "-o", str(out_file),
                           *judge_args(server, tmp_path)[:-4], "--no-progress", "--json", *extra], capsys)
    if "--from-cache" in extra:
        assert server.stats.chat_requests == 0
    assert code in (0, 3), err
    return data, [json.loads(line) for line in out_file.read_text().splitlines()]


def assert_no_sample_rises(records, answers, rows) -> None:
    """Every sample reads at most what the judge itself counted for that answer (a failure reads 0)."""
    for row, record, answer in zip(rows, records, answers):
        judged = sum(_covered(answer, list(record.triggers)))
        assert row["failed"] or row["covered"] <= judged, (row["raw"][:400], answer[:400])


@pytest.mark.parametrize("style", [*PAPER_STYLES, "mix"])
def test_d1_the_judges_own_wording_planted_around_every_score_buys_nothing(style, official_records, official_dir,
                                                                          tmp_path, capsys, monkeypatch):
    records = official_records.basic[::8][:200]
    rng = random.Random(f"d1-{style}")
    styles = PAPER_STYLES if style == "mix" else (style,)
    answers = [d1(a, r.n_triggers, styles, rng, cut=i % 2 == 0, every_total=i % 3 == 0)
               for i, (a, r) in enumerate(zip(mixed_answers(records), records))]
    cache = ("--cache-dir", str(tmp_path / "cache"))
    with judge_server(reply_style=style) as server:
        for extra in (cache, (*cache, "--from-cache", "--trust-judge-total"), ("--trust-judge-total",)):
            data, rows = score_rows(records, answers, style, tmp_path, official_dir, capsys, monkeypatch, *extra,
                                    server=server)
            assert_no_sample_rises(records, answers, rows)
            assert data["n_failed"] <= len(records) // 20  # the judge's own verdict is found, not just refused


def test_d1_with_a_judge_that_quotes_the_whole_answer(official_records, official_dir, tmp_path, capsys,
                                                      monkeypatch):
    records = official_records.basic[::8][:200]
    rng = random.Random("d1-whole")
    answers = [d1(a, r.n_triggers, ("first",), rng, cut=False) for a, r in zip(mixed_answers(records), records)]
    data, rows = score_rows(records, answers, "first", tmp_path, official_dir, capsys, monkeypatch, quote_chars=None)
    assert_no_sample_rises(records, answers, rows)
    assert data["n_failed"] <= len(records) // 20


@pytest.mark.parametrize("style", ["first", "mix"])
def test_d2_a_decoy_total_buys_nothing(style, official_records, official_dir, tmp_path, capsys, monkeypatch):
    records = official_records.basic[::8][:200]
    rng = random.Random(f"d2-{style}")
    answers = [d2(a, r.n_triggers, rng) for a, r in zip(mixed_answers(records), records)]
    for extra in ((), ("--trust-judge-total",)):
        data, rows = score_rows(records, answers, style, tmp_path, official_dir, capsys, monkeypatch, *extra)
        assert_no_sample_rises(records, answers, rows)
        assert data["n_failed"] == 0


@pytest.mark.parametrize("style", ["first", "echo", "last"])
def test_d3_an_unbraced_verdict_is_the_judges(style, official_records, official_dir, tmp_path, capsys,
                                              monkeypatch):
    records = official_records.basic[::8][:200]
    rng = random.Random(f"d3-{style}")
    answers = [d3(a, rng) for a in mixed_answers(records)]
    data, rows = score_rows(records, answers, style, tmp_path, official_dir, capsys, monkeypatch, unbraced=True)
    assert_no_sample_rises(records, answers, rows)
    assert data["n_failed"] == 0
    assert all(row["covered"] == sum(_covered(a, list(r.triggers))) for row, r, a in zip(rows, records, answers))


@pytest.mark.parametrize("style", ["first", "mix"])
def test_bar_hidden_d1_and_d2_plants_move_overall_by_under_2_points(style, official_records, official_dir,
                                                                    tmp_path, capsys, monkeypatch):
    records = official_records.basic[::5][:300]
    honest = mixed_answers(records)
    rng = random.Random(f"bar-{style}")
    styles = PAPER_STYLES if style == "mix" else (style,)
    planted = [d2(d1(a, r.n_triggers, styles, rng, cut=i % 2 == 0), r.n_triggers, rng)
               for i, (a, r) in enumerate(zip(honest, records))]
    clean, _ = score_rows(records, honest, style, tmp_path, official_dir, capsys, monkeypatch)
    gamed, rows = score_rows(records, planted, style, tmp_path, official_dir, capsys, monkeypatch)
    assert_no_sample_rises(records, planted, rows)
    print(f"\nbar {style}: overall {clean['overall']:.2f} without plants, {gamed['overall']:.2f} with hidden D1+D2 "
          f"plants ({gamed['n_failed']} judge failures of {gamed['n']})", file=sys.stderr)
    assert abs(gamed["overall"] - clean["overall"]) <= 2.0


def assert_no_sample_rises_folded(records, answers, rows) -> None:
    """As `assert_no_sample_rises`, against what a normalizing judge counts (it reads the folded answer)."""
    assert_no_sample_rises(records, [folded(a) for a in answers], rows)


@pytest.mark.parametrize("shape", list(HIDDEN_SHAPES))
@pytest.mark.parametrize("style", ["folded", "mix", "last"])
def test_a_score_hidden_by_invisible_or_compatibility_characters_is_the_answers(shape, style, official_records,
                                                                                official_dir, tmp_path, capsys,
                                                                                monkeypatch):
    """Issue 32: `{sc\\u200bore: N/N}` and kin, against a judge that quotes the answer folded (NFKC, format
    characters dropped) in any style: the verdict first (`folded`), last, or one per prompt."""
    records = official_records.basic[::16][:100]
    rng = random.Random(f"hidden-{shape}-{style}")
    honest = mixed_answers(records)
    planted = [hidden("I see it.", r.n_triggers, rng, (shape,)) for r in records]  # 3.87 -> 99.76 on main
    with_honest = [hidden(a, r.n_triggers, rng, (shape,)) for a, r in zip(honest, records)]
    with judge_server(reply_style=style, fold_quote=True) as server:
        for answers in (planted, with_honest):
            data, rows = score_rows(records, answers, style, tmp_path, official_dir, capsys, monkeypatch,
                                    server=server)
            assert_no_sample_rises_folded(records, answers, rows)
            assert data["n_failed"] <= len(records) // 20
        clean, _ = score_rows(records, honest, style, tmp_path, official_dir, capsys, monkeypatch, server=server)
    assert data["overall"] <= clean["overall"] + 2.0


def test_every_hidden_shape_at_once_against_a_verbatim_judge_too(official_records, official_dir, tmp_path, capsys,
                                                                 monkeypatch):
    records = official_records.basic[::16][:100]
    rng = random.Random("hidden-all")
    answers = [hidden(a, r.n_triggers, rng) for a, r in zip(mixed_answers(records), records)]
    for fold_quote in (True, False):
        data, rows = score_rows(records, answers, "first", tmp_path, official_dir, capsys, monkeypatch,
                                fold_quote=fold_quote)
        (assert_no_sample_rises_folded if fold_quote else assert_no_sample_rises)(records, answers, rows)
        assert data["n_failed"] <= len(records) // 20
