"""hub_upload.py / build.py: the real official build, bad inputs (clear error, nothing left behind), images-free
builds, captions, the Hub upload (Hub client stood in for at its boundary), and a cheap package import."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from datasets import load_dataset

from lmms_eval_eibench.data.build import main
from lmms_eval_eibench.data.records import find_annotation_root, load_records
from lmms_eval_eibench.data.sample import SAMPLE_DIR, write_images

REPO = Path(__file__).resolve().parents[1]


def test_official_build_through_hub_upload_script(official_dir, official_images, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(REPO / "hub_upload.py"), "--eibench", str(official_dir),
                           "--image-root", str(official_images), "--output", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "basic: 1615 rows (Happy 91, Angry 342, Sadness 462, Excitement 720)" in proc.stdout
    assert "user.jsonl:176: the question reads like a model refusal" in proc.stderr

    basic = load_dataset(str(out), "basic")["test"]
    assert basic.num_rows == 1615
    assert Counter(basic["category"]) == {"Happy": 91, "Angry": 342, "Sadness": 462, "Excitement": 720}
    assert len(set(basic["id"])) == 1615
    for row in basic.select(range(0, 1615, 97)):
        numbered = [line.split(".", 1)[1].strip() for line in row["ground_truth"].splitlines() if line.strip()]
        assert row["triggers"] == [t for t in numbered if t] and row["n_triggers"] == len(row["triggers"])
        assert row["image"].size == (32, 32) and row["image"].convert("RGB").getpixel((0, 0))
    complex_ = load_dataset(str(out), "complex")["test"]
    assert complex_.num_rows == 50 and len(set(complex_["image_path"])) == 23
    assert complex_[0]["category"] is None and complex_[0]["id"].endswith("#0")

    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == {"README.md", "basic/test-00000-of-00001.parquet",
                                      "complex/test-00000-of-00001.parquet"}
    assert set(manifest["sources"]) == {"EI_Basic/user.jsonl", "EI_Basic/basic_ground_truth.json",
                                        "EI_Complex/ec_complex.jsonl"}
    card = (out / "README.md").read_text()
    assert "config_name: basic" in card and "| Excitement | 720 |" in card and "Apache-2.0" in card
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp folders left


def test_build_is_reproducible(tmp_path):
    summaries = [main(["--output", str(tmp_path / name)]) for name in ("a", "b")]
    assert summaries == [0, 0]
    fingerprint = [json.loads((tmp_path / n / "manifest.json").read_text())["fingerprint"] for n in ("a", "b")]
    assert fingerprint[0] == fingerprint[1]


def _sample_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A writable copy of the embedded sample's annotations plus drawn images."""
    annotations = tmp_path / "eibench"
    shutil.copytree(SAMPLE_DIR / "EI_Basic", annotations / "EI_Basic")
    shutil.copytree(SAMPLE_DIR / "EI_Complex", annotations / "EI_Complex")
    from lmms_eval_eibench.data.records import load_records

    images = tmp_path / "images"
    write_images(load_records(annotations).image_paths(), images)
    return annotations, images


def _edit_json_object(path: Path, edit) -> None:
    obj = json.loads(path.read_text())
    edit(obj)
    path.write_text(json.dumps(obj, indent=4))


def _break(annotations: Path, images: Path, case: str) -> None:
    user = annotations / "EI_Basic" / "user.jsonl"
    truth = annotations / "EI_Basic" / "basic_ground_truth.json"
    complex_ = annotations / "EI_Complex" / "ec_complex.jsonl"
    lines = user.read_text().splitlines()
    if case == "malformed-json":
        lines[2] = lines[2][:-3]
        user.write_text("\n".join(lines))
    elif case == "question-without-truth":
        user.write_text("\n".join(lines + ['{"CAER-S/train/Happy/extra_9.png": "Why so happy?"}']))
    elif case == "truth-without-question":
        user.write_text("\n".join(lines[:-1]))
    elif case == "empty-triggers":
        _edit_json_object(truth, lambda o: o.update({"CAER-S/train/Angry/sample_0003.png": ""}))
    elif case == "unnumbered-triggers":
        _edit_json_object(truth, lambda o: o.update({"CAER-S/train/Angry/sample_0003.png": "Queue\nNoise"}))
    elif case == "duplicate-key-in-truth":
        text = truth.read_text().replace("{\n", '{\n    "CAER-S/train/Happy/sample_0002.png": "1. Kite",\n', 1)
        truth.write_text(text)
    elif case == "duplicate-image-in-questions":
        user.write_text("\n".join(lines + [lines[1]]))
    elif case == "duplicate-key-in-line":
        lines[0] = lines[0][:-1] + ', "CAER-S/train/Happy/sample_0001.png": "Again?"}'
        user.write_text("\n".join(lines))
    elif case == "complex-wrong-shape":
        complex_.write_text(complex_.read_text() + '\n{"EmoSet-118k/image/fear/x.jpg": "1. A drop"}')
    elif case == "path-escapes-root":
        user.write_text("\n".join([lines[0].replace("CAER-S/train/Happy/", "CAER-S/train/../../../")] + lines[1:]))
    elif case == "absolute-path":
        user.write_text("\n".join([lines[0].replace("CAER-S/", "/CAER-S/")] + lines[1:]))
    elif case == "missing-images":
        for path in sorted(images.rglob("*.jpg"))[:3]:
            path.unlink()
    elif case == "unknown-category":
        user.write_text("\n".join([lines[0].replace("CAER-S/train/Happy/", "CAER-S/train/Neutral/")] + lines[1:]))
    elif case == "unreadable-image":
        next(images.rglob("*.png")).write_bytes(b"not an image at all")
    else:
        raise AssertionError(case)


BAD_INPUTS = {
    "malformed-json": r"user\.jsonl:3: malformed JSON",
    "question-without-truth": r"user\.jsonl:9: question for 'CAER-S/train/Happy/extra_9\.png' has no ground truth",
    "truth-without-question": r"basic_ground_truth\.json:9: ground truth for .* has no question",
    "empty-triggers": r"basic_ground_truth\.json:4: empty trigger list",
    "unnumbered-triggers": r"basic_ground_truth\.json:4: ground-truth line 'Queue' is not a numbered trigger",
    "duplicate-key-in-truth": r"basic_ground_truth\.json:\d+: duplicate key 'CAER-S/train/Happy/sample_0002\.png'",
    "duplicate-image-in-questions": r"user\.jsonl:9: duplicate image path .* \(first on line 2\)",
    "duplicate-key-in-line": r"user\.jsonl:1: duplicate key",
    "complex-wrong-shape": r"ec_complex\.jsonl:6: expected an object with exactly one key",
    "path-escapes-root": r"user\.jsonl:1: image path .* escapes the image root",
    "absolute-path": r"user\.jsonl:1: image path '/CAER-S/.*' is not a relative POSIX path",
    "missing-images": r"3 of 10 images are missing \(listed below\)\. Fix: .*Missing:\n  .*\.jpg",
    "unreadable-image": r"\.png: image cannot be read",
    "unknown-category": r"user\.jsonl:1: basic image 'CAER-S/train/Neutral/.*' is not in a category folder",
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_stops_with_a_clear_error_and_leaves_nothing(case, tmp_path, capsys):
    import re

    annotations, images = _sample_copy(tmp_path)
    _break(annotations, images, case)
    out = tmp_path / "out"
    code = main(["--eibench", str(annotations), "--image-root", str(images), "--output", str(out)])
    err = capsys.readouterr().err
    assert code != 0
    assert re.search(BAD_INPUTS[case], err), err
    assert "Fix:" in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_missing_images_are_reported_at_once_with_count(official_dir, tmp_path, capsys):
    code = main(["--eibench", str(official_dir), "--image-root", str(tmp_path / "none"), "--output",
                 str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "1636 of 1636 images are missing" in err and "... and 1626 more" in err
    assert err.count("images are missing") == 1 and not (tmp_path / "out").exists()


def test_existing_output_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--output", str(out)]) == 0
    before = (out / "manifest.json").read_text()
    assert main(["--output", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and (out / "manifest.json").read_text() == before
    assert main(["--output", str(out), "--overwrite"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_no_images_builds_without_any_image(official_dir, tmp_path):
    out = tmp_path / "out"
    assert main(["--eibench", str(official_dir), "--no-images", "--output", str(out)]) == 0
    basic = load_dataset(str(out), "basic", split="test")
    assert basic.num_rows == 1615 and basic[0]["image"] is None and basic[0]["image_path"]


def test_separate_collection_roots_and_captions(tmp_path):
    annotations, images = _sample_copy(tmp_path)
    captions = tmp_path / "captions.jsonl"
    captions.write_text(json.dumps({"image_path": "CAER-S/train/Happy/sample_0001.png", "caption": "A party."}) + "\n")
    out = tmp_path / "out"
    argv = ["--eibench", str(annotations), "--emoset-root", str(images / "EmoSet-118k"),
            "--caer-root", str(images / "CAER-S"), "--captions", str(captions), "--output", str(out)]
    assert main(argv) == 2 and not out.exists()  # a partial captions file would fail only in the caption tasks
    paths = load_records(find_annotation_root(annotations)).image_paths()
    with captions.open("a") as file:
        file.writelines(json.dumps({"image_path": p, "caption": f"Image {p}."}) + "\n" for p in paths
                        if p != "CAER-S/train/Happy/sample_0001.png")
    assert main(argv) == 0
    basic = load_dataset(str(out), "basic", split="test")
    by_path = dict(zip(basic["image_path"], basic["caption"]))
    assert by_path["CAER-S/train/Happy/sample_0001.png"] == "A party."
    assert by_path["CAER-S/train/Happy/sample_0002.png"] == "Image CAER-S/train/Happy/sample_0002.png."


def test_bad_captions_name_the_line(tmp_path, capsys):
    captions = tmp_path / "captions.jsonl"
    captions.write_text('{"image_path": "CAER-S/train/Happy/sample_0001.png", "caption": "A party."}\n'
                        '{"image_path": "CAER-S/train/Happy/nope.png", "caption": "x"}\n')
    assert main(["--captions", str(captions), "--output", str(tmp_path / "out")]) == 2
    assert "captions.jsonl:2: 'CAER-S/train/Happy/nope.png' is not an EIBench image" in capsys.readouterr().err


class FakeHub:
    """Stands in for huggingface_hub.HfApi at its boundary: records calls and keeps what would be uploaded."""

    def __init__(self, store: Path):
        self.store, self.calls = store, []

    def create_repo(self, repo_id, repo_type, private, exist_ok):
        self.calls.append(("create_repo", repo_id, repo_type, private))

    def upload_folder(self, folder_path, repo_id, repo_type, commit_message):
        self.calls.append(("upload_folder", repo_id, repo_type))
        shutil.copytree(folder_path, self.store / repo_id)
        return type("CommitInfo", (), {"commit_url": f"https://hub.invalid/{repo_id}/commit/1"})()


def test_upload_to_hub_in_one_commit(tmp_path, capsys):
    import argparse

    from lmms_eval_eibench.data.build import add_arguments, run

    hub = FakeHub(tmp_path / "hub")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    code = run(parser.parse_args(["--repo-id", "org/eibench", "--private"]), api=hub)
    assert code == 0, capsys.readouterr().err
    assert hub.calls == [("create_repo", "org/eibench", "dataset", True), ("upload_folder", "org/eibench", "dataset")]
    uploaded = tmp_path / "hub" / "org" / "eibench"
    assert load_dataset(str(uploaded), "complex", split="test").num_rows == 4
    assert "hub:org/eibench" in capsys.readouterr().out


def test_default_output_location_follows_environment(tmp_path, monkeypatch):
    from lmms_eval_eibench.data import dataset

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("EIBENCH_DATASET", raising=False)
    with pytest.raises(dataset.DatasetNotFound, match="hub_upload.py"):
        dataset.resolve()
    assert main([]) == 0
    assert (tmp_path / "cache" / "lmms_eval_eibench" / "dataset" / "README.md").is_file()
    assert dataset.load_subset("basic").num_rows == 8
    monkeypatch.setenv("EIBENCH_DATASET", str(tmp_path / "elsewhere"))
    assert main([]) == 0 and (tmp_path / "elsewhere" / "manifest.json").is_file()
    assert dataset.fingerprint() == json.loads((tmp_path / "elsewhere" / "manifest.json").read_text())["fingerprint"]


def test_dataset_location_local_or_hub(tmp_path, monkeypatch):
    from lmms_eval_eibench.data import dataset

    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    with pytest.raises(dataset.DatasetNotFound, match="No EIBench dataset at out/eibench"):
        dataset.resolve("out/eibench")  # a typo'd local path is not mistaken for a Hub repo id
    assert dataset.resolve("some-org/eibench") == "some-org/eibench"
    with pytest.raises(dataset.DatasetNotFound, match="not a built EIBench dataset"):
        dataset.resolve("out")


def test_fingerprint_of_a_hub_repo_comes_from_its_uploaded_manifest(tmp_path, monkeypatch):
    """The Hub is stood in for at its boundary (hf_hub_download) with what hub_upload.py would upload."""
    import huggingface_hub

    from lmms_eval_eibench.data import dataset

    assert main(["--output", str(tmp_path / "built")]) == 0
    calls = []

    def fake_download(repo_id, filename, repo_type):
        calls.append((repo_id, filename, repo_type))
        return str(tmp_path / "built" / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    expected = json.loads((tmp_path / "built" / "manifest.json").read_text())["fingerprint"]
    assert dataset.fingerprint("some-org/eibench") == expected
    assert calls == [("some-org/eibench", "manifest.json", "dataset")]

    def offline(*args, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    assert dataset.fingerprint("some-org/eibench") is None


def test_repo_id_in_environment_is_not_an_output_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EIBENCH_DATASET", "some-org/eibench")
    assert main([]) == 2
    assert "EIBENCH_DATASET: names the Hub repo 'some-org/eibench'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
