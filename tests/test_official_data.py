"""Official data, proven: the package ships the SHA-256 of the published annotation files; a build records whether
its sources match them (`official` in the manifest), runs say so in their provenance, and the report marks rows
scored on unofficial data (modified files, or the embedded sample)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_server import judge_server
from test_score_integrity import judge_args, resign_manifest, run, samples_file, write_lines

from lmms_eval_eibench import cli
from lmms_eval_eibench.data import official
from lmms_eval_eibench.data.records import SOURCE_FILES


def modified_copy(official_dir: Path, tmp_path: Path) -> Path:
    """The official files with one ground-truth trigger reworded (still valid annotations)."""
    copy = tmp_path / "EIBench-edited"
    shutil.copytree(official_dir, copy)
    for path in copy.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    truth = copy / "EI_Basic" / "basic_ground_truth.json"
    text = truth.read_text(encoding="utf-8")
    at = text.index("1.")
    truth.write_text(text[: at + 2] + " the" + text[at + 2 :], encoding="utf-8")
    return copy


def test_the_shipped_hashes_are_the_official_files(official_dir, official_records, tmp_path):
    assert sorted(official.OFFICIAL_SHA256) == sorted(Path(f).as_posix() for f in SOURCE_FILES)
    assert official.files_match(official_dir)
    for subset, digest in official.OFFICIAL_ROWS_SHA256.items():
        assert official.rows_digest(r.as_row() for r in official_records.subset(subset)) == digest
    assert not official.files_match(modified_copy(official_dir, tmp_path))


def test_a_build_records_whether_its_sources_are_official(official_dir, tmp_path, capsys):
    from lmms_eval_eibench.data.build import main

    built = {}
    for name, source in (("official", official_dir), ("edited", modified_copy(official_dir, tmp_path)),
                         ("sample", None)):
        out = tmp_path / f"out-{name}"
        args = ["--no-images", "--output", str(out)] + (["--eibench", str(source)] if source else [])
        assert main(args) == 0, capsys.readouterr().err
        built[name] = json.loads((out / "manifest.json").read_text())["official"]
    assert built == {"official": True, "edited": False, "sample": False}


def test_runs_on_modified_data_say_so_and_the_report_marks_them(official_records, official_dir, tmp_path, capsys,
                                                               monkeypatch):
    from lmms_eval_eibench.data.build import main

    complex_ = official_records.complex
    answers = write_lines(tmp_path / "answers.jsonl", [{r.image_path: r.ground_truth} for r in complex_])
    edited = modified_copy(official_dir, tmp_path)
    assert main(["--eibench", str(edited), "--no-images", "--output", str(tmp_path / "ds")]) == 0
    capsys.readouterr()
    outputs = {}
    with judge_server() as judge:
        monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", judge.api_key)
        for name, source in (("official", ["--annotations", str(official_dir)]),
                             ("edited", ["--annotations", str(edited)]),
                             ("edited-build", ["--dataset", str(tmp_path / "ds")])):
            code, data, err = run([str(answers), *source, *judge_args(judge, tmp_path)], capsys)
            assert code == 0, err
            outputs[name] = data
            (tmp_path / f"{name}.json").write_text(json.dumps({**data, "model": name}))
    assert {k: v["provenance"]["dataset"]["official"] for k, v in outputs.items()} == {
        "official": True, "edited": False, "edited-build": False}
    code = cli.main(["report", *(str(tmp_path / f"{n}.json") for n in outputs)])
    table, err = capsys.readouterr()
    assert code == 0, err
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert "unofficial data" not in rows["official"]
    assert "(unofficial data)" in rows["edited"] and "(unofficial data)" in rows["edited-build"]
    assert "scored on unofficial data" in err and "edited complex" in err and "official complex" not in err


def test_a_samples_file_scored_on_the_official_annotations_is_official(official_records, official_dir, tmp_path,
                                                                      capsys, monkeypatch):
    records = official_records.basic[:10]
    path = samples_file(tmp_path, "eibench_basic", records, [r.ground_truth for r in records])
    with judge_server() as judge:
        monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", judge.api_key)
        code, data, err = run([str(path), "--annotations", str(official_dir), "--allow-partial",
                               *judge_args(judge, tmp_path)], capsys)
    assert code == 0, err
    assert data["provenance"]["dataset"]["official"] is True


def test_a_re_signed_build_with_edited_rows_is_not_official(official_dir, tmp_path, capsys):
    """Sources named as the official files, rows edited, manifest hashes and fingerprint all rewritten to match:
    the build verifies, but its rows are not the official ones."""
    import pyarrow.parquet as pq

    from lmms_eval_eibench.data import dataset
    from lmms_eval_eibench.data.build import main

    out = tmp_path / "ds"
    assert main(["--eibench", str(official_dir), "--no-images", "--output", str(out)]) == 0
    capsys.readouterr()
    assert dataset.official(out) is True
    parquet = out / dataset.parquet_path("basic")
    table = pq.read_table(parquet)
    n_triggers = table.column("n_triggers").to_pylist()
    table = table.set_column(table.schema.get_field_index("n_triggers"), "n_triggers",
                             [[n_triggers[0] + 1, *n_triggers[1:]]])
    pq.write_table(table, parquet)
    manifest = resign_manifest(out, dataset.parquet_path("basic"))
    assert dataset.verify(out) == manifest["fingerprint"]  # self-consistent...
    assert manifest["official"] is True and dataset.official(out) is False  # ...but not the official rows
