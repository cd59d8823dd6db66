"""records.py: joining, trigger parsing, categories, ids and warnings, on the real annotations and the sample."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from lmms_eval_eibench.data.records import (
    EIBenchDataError,
    category_of,
    check_image_path,
    load_records,
    parse_triggers,
    sample_id,
    split_sample_id,
)
from lmms_eval_eibench.data.sample import SAMPLE_DIR


def test_official_basic_joined_by_path_with_paper_categories(official_dir, official_records):
    basic = official_records.basic
    assert len(basic) == 1615
    assert Counter(r.category for r in basic) == {"Happy": 91, "Angry": 342, "Sadness": 462, "Excitement": 720}
    assert len({r.id for r in basic}) == 1615
    assert all(r.id == r.image_path for r in basic)
    # Joined by path, not by line: every record's ground truth is the one stored under its own key.
    truth = json.loads((official_dir / "EI_Basic" / "basic_ground_truth.json").read_text())
    questions = {k: v for line in (official_dir / "EI_Basic" / "user.jsonl").read_text().splitlines() if line
                 for k, v in json.loads(line).items()}
    for record in basic:
        assert record.ground_truth == truth[record.image_path]
        assert record.question == questions[record.image_path]
        assert {r.source for r in basic} == {"EmoSet-118K", "CAER-S"}


def test_official_triggers_match_numbered_lines(official_records):
    for record in official_records.basic + official_records.complex:
        numbered = [m.group(1).strip() for m in re.finditer(r"(?m)^\s*\d+\.\s*(.*)$", record.ground_truth)]
        assert list(record.triggers) == [t for t in numbered if t]
        assert record.n_triggers == len(record.triggers) >= 2


def test_official_complex_ids_and_folder_emotion(official_records):
    complex_ = official_records.complex
    assert len(complex_) == 50
    assert len({r.image_path for r in complex_}) == 23
    assert len({r.id for r in complex_}) == 50
    assert all(r.category is None and r.folder_emotion for r in complex_)
    # k counts an image's questions in file order, from 0.
    per_image = Counter()
    for record in complex_:
        assert record.id == f"{record.image_path}#{per_image[record.image_path]}"
        assert record.question_index == per_image[record.image_path]
        per_image[record.image_path] += 1
    assert max(per_image.values()) == 4
    assert all(split_sample_id(r.id) == (r.image_path, r.question_index) for r in complex_)


def test_sample_id_and_its_reading_are_one_rule(official_records):
    assert all(sample_id(r.image_path) == r.id and split_sample_id(r.id) == (r.image_path, None)
               for r in official_records.basic)
    assert sample_id("CAER-S/test/Fear/0001.png", 3) == "CAER-S/test/Fear/0001.png#3"
    assert split_sample_id("CAER-S/test/Fear/0001.png#12") == ("CAER-S/test/Fear/0001.png", 12)
    assert split_sample_id("odd#name.png") == ("odd#name.png", None)  # no question index after the last #
    assert len(official_records.image_paths()) == 1636


def test_known_defects_are_warnings_and_data_stays_as_published(official_records):
    text = "\n".join(map(str, official_records.warnings))
    refusal = next(r for r in official_records.basic if r.image_path == "CAER-S/train/Angry/1074.png")
    assert refusal.question.startswith("I'm unable")  # kept verbatim
    assert re.search(r"user\.jsonl:\d+: the question reads like a model refusal", text)
    assert len(re.findall(r"stray quote|does not end with '\?'", text)) == 4
    assert len(re.findall(r"is empty and is not counted", text)) == 2


def test_sample_is_our_own_and_well_formed():
    records = load_records(SAMPLE_DIR)
    assert len(records.basic) == 8 and len(records.complex) == 4 and not records.warnings
    assert Counter(r.category for r in records.basic) == {"Happy": 2, "Angry": 2, "Sadness": 2, "Excitement": 2}


def test_clone_layout_is_found(tmp_path):
    import shutil

    shutil.copytree(SAMPLE_DIR / "EI_Basic", tmp_path / "EIBench" / "EI_Basic")
    shutil.copytree(SAMPLE_DIR / "EI_Complex", tmp_path / "EIBench" / "EI_Complex")
    assert len(load_records(tmp_path).basic) == 8


@pytest.mark.parametrize("text, problem", [
    ("", "empty trigger list"),
    ("Crowd cheering\nLoud music", "not a numbered trigger"),
    ("1. Crowd\n3. Music", "numbered 3 where 2 was expected"),
])
def test_bad_trigger_lists(text, problem):
    with pytest.raises(EIBenchDataError, match=problem) as err:
        parse_triggers(text, "gt.json:7")
    assert str(err.value).startswith("gt.json:7: ") and "Fix:" in str(err.value)


def test_trigger_parsing_tolerates_spacing_and_parentheses():
    assert parse_triggers(" 1) Rain.\n\n2.  A dim room ", "x") == ("Rain.", "A dim room")


@pytest.mark.parametrize("path", ["../EmoSet-118k/image/a/b.jpg", "EmoSet-118k/image/../../x.jpg", "/etc/passwd",
                                  "C:/images/a.jpg", "Other/image/a/b.jpg", "EmoSet-118k\\image\\a\\b.jpg"])
def test_image_paths_that_escape_or_are_unknown_are_refused(path):
    with pytest.raises(EIBenchDataError, match="image path"):
        check_image_path(path, "user.jsonl:3")


def test_category_mapping():
    assert [category_of(f) for f in ("Happy", "Angry", "sadness", "excitement")] == list(
        ("Happy", "Angry", "Sadness", "Excitement"))
