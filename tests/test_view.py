"""`eibench view`: the page of a run (or two, paired), checked in a real browser (Debian's chromium, headless)
through the DOM the page's own script builds. Runs are real: lmms-eval's runner with the `dummy` model judged by
the offline embedding judge, and `eibench score -o` judged over HTTP by the fake judge on 127.0.0.1 (paper and
structured prompts)."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest
from browser import chromium, dump_dom, elements, screenshot, texts, title
from judge_server import FakeJudgeConfig, judge_server
from test_lmms_e2e import dataset_rows, run_lmms

from lmms_eval_eibench.cli import main

pytestmark = pytest.mark.slow

RESPONSE_A = "A long wait in line and a friend telling a joke"
RESPONSE_B = "Heavy traffic jam"  # covers a trigger A misses (the embedding judge favours short answers)
# an answer that would run script if the page put it into HTML: a title change, an attribute, a request
HOSTILE = ('</script><script>document.title="pwned"</script><img src=x onerror="document.body.dataset.pwned=1">'
           '<!-- <script>document.title="pwned2"</script> -->')


@pytest.fixture(scope="session", autouse=True)
def browser() -> str:
    return chromium()  # fails with the install command when absent: nothing here is skipped


@pytest.fixture(scope="module")
def runs(sample_dataset_dir, tmp_path_factory) -> dict[str, Path]:
    """Run A (basic) and run B (basic + complex) of lmms-eval's dummy model, embedding judge, --log_samples."""
    out = tmp_path_factory.mktemp("view-runs")
    env = {"EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_JUDGE": "embedding",
           "EIBENCH_CACHE_DIR": str(out / "cache")}
    run_lmms("eibench_basic", out / "A", env, "--log_samples", model_args=f"response={RESPONSE_A}")
    run_lmms("eibench_basic,eibench_complex", out / "B", env, "--log_samples", model_args=f"response={RESPONSE_B}")
    return {"A": out / "A", "B": out / "B"}


def samples(folder: Path, task: str) -> dict[str, dict]:
    [path] = folder.rglob(f"*_samples_{task}.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {line["eibench_semantic_recall"]["verdict"]["id"]: line for line in lines}


def view(*args: str, capsys=None) -> tuple[int, str]:
    code = main(["view", *args])
    err = capsys.readouterr().err if capsys is not None else ""
    return code, err


def sample_ids(dom: str) -> list[str]:
    return [attrs["data-sample-id"] for _, attrs in elements(dom, "data-sample-id")]


def count(dom: str) -> int:
    [(_, attrs)] = elements(dom, "data-count")
    return int(attrs["data-count"])


@pytest.fixture(scope="module")
def page_a(runs, sample_dataset_dir, tmp_path_factory) -> Path:
    page = tmp_path_factory.mktemp("view-a") / "a.html"
    assert main(["view", str(runs["A"]), "--dataset", str(sample_dataset_dir), "-o", str(page)]) == 0
    return page


def test_page_shows_every_sample_with_its_image_and_per_trigger_decisions(runs, page_a, sample_dataset_dir):
    dom = dump_dom(page_a)
    logged = samples(runs["A"], "eibench_basic")
    rows = {r["id"]: r for r in dataset_rows(sample_dataset_dir, "basic")}
    assert sorted(sample_ids(dom)) == sorted(logged) == sorted(rows) and count(dom) == len(rows)
    triggers = [attrs for _, attrs in elements(dom, "data-trigger")]
    by_sample: dict[str, list] = {}
    for sample_id in logged:  # triggers in document order, sample after sample, the dataset's order within one
        by_sample[sample_id] = [t for t in rows[sample_id]["triggers"]]
    expected = [(t, str(c).lower()) for sid in sample_ids(dom)
                for t, c in zip(by_sample[sid], logged[sid]["eibench_semantic_recall"]["verdict"]["trigger_covered"])]
    assert [(t["data-trigger"], t["data-covered"]) for t in triggers] == expected
    assert {c for _, c in expected} == {"true", "false"}  # the run covers some triggers and misses others
    images = [attrs for tag, attrs in elements(dom, "src") if tag == "img"]
    assert len(images) == len(rows) and all(a["src"].startswith("data:image/jpeg;base64,") for a in images)
    assert RESPONSE_A in texts(dom, "answer")
    recalls = {a["data-sample-id"]: a for _, a in elements(dom, "data-sample-id")}
    sides = [a for _, a in elements(dom, "data-recall")]
    assert [float(s["data-recall"]) for s in sides] == pytest.approx(
        [logged[i]["eibench_semantic_recall"]["score"] for i in recalls], abs=0.01)
    assert "eibench_basic" in dom and "embedding:" in dom  # provenance header: task and judge label
    assert "unofficial data" in dom  # the embedded sample: report's warning, shown in the header


def test_filters_sort_and_search_read_the_url_hash(runs, page_a, sample_dataset_dir):
    rows = {r["id"]: r for r in dataset_rows(sample_dataset_dir, "basic")}
    logged = samples(runs["A"], "eibench_basic")
    score = {i: line["eibench_semantic_recall"]["score"] for i, line in logged.items()}
    angry = dump_dom(page_a, "#category=Angry")
    assert sorted(sample_ids(angry)) == sorted(i for i, r in rows.items() if r["category"] == "Angry")
    assert count(angry) == len(sample_ids(angry)) > 0
    ranged = dump_dom(page_a, "#min=1&max=100")
    assert sorted(sample_ids(ranged)) == sorted(i for i, s in score.items() if s >= 1) != sorted(rows)
    ordered = sample_ids(dump_dom(page_a, "#sort=-recall"))
    assert [score[i] for i in ordered] == sorted(score.values(), reverse=True)
    missed = sample_ids(dump_dom(page_a, "#trigger=wait&covered=missed"))
    covered = sample_ids(dump_dom(page_a, "#trigger=wait&covered=covered"))
    with_wait = {i for i, r in rows.items() if any("wait" in t.lower() for t in r["triggers"])}
    assert covered and set(covered) <= with_wait and not set(covered) & set(missed)
    decided = {i: dict(zip(rows[i]["triggers"], logged[i]["eibench_semantic_recall"]["verdict"]["trigger_covered"]))
               for i in with_wait}
    assert set(covered) == {i for i in with_wait if any(c for t, c in decided[i].items() if "wait" in t.lower())}
    search = sample_ids(dump_dom(page_a, "#q=kite"))
    assert search and all("kite" in (rows[i]["question"] + " ".join(rows[i]["triggers"])).lower() for i in search)
    assert sample_ids(dump_dom(page_a, "#failed=any")) == []  # the dummy model always answers; the judge never failed


def test_two_runs_paired_per_sample_with_report_paired_table(runs, sample_dataset_dir, tmp_path, capsys):
    page = tmp_path / "ab.html"
    code, err = view(str(runs["A"]), str(runs["B"]), "--task", "eibench_basic", "--dataset", str(sample_dataset_dir),
                     "-o", str(page), capsys=capsys)
    assert code == 0, err
    a, b = samples(runs["A"], "eibench_basic"), samples(runs["B"], "eibench_basic")
    diff = {i: b[i]["eibench_semantic_recall"]["score"] - a[i]["eibench_semantic_recall"]["score"] for i in a}
    assert {d > 0 for d in diff.values()} == {True, False}  # some samples better in B, some not
    dom = dump_dom(page)
    assert len(sample_ids(dom)) == len(a)
    shown = {attrs["data-sample-id"]: attrs for _, attrs in elements(dom, "data-sample-id")}
    diffs = [float(attrs["data-diff"]) for _, attrs in elements(dom, "data-diff")]
    assert diffs == pytest.approx([diff[i] for i in shown], abs=0.001)
    assert sorted(sample_ids(dump_dom(page, "#paired=b-better"))) == sorted(i for i, d in diff.items() if d > 0)
    assert sorted(sample_ids(dump_dom(page, "#paired=a-better"))) == sorted(i for i, d in diff.items() if d < 0)
    assert sorted(sample_ids(dump_dom(page, "#paired=same"))) == sorted(i for i, d in diff.items() if d == 0)
    assert [diff[i] for i in sample_ids(dump_dom(page, "#sort=-diff"))] == sorted(diff.values(), reverse=True)
    assert "| eibench_basic | overall |" in dom  # the report --paired table in the header
    sides = {attrs["data-run"] for _, attrs in elements(dom, "data-run") if "data-recall" in attrs}
    assert sides == {"a", "b"}


def test_paired_view_refused_like_report_paired(runs, sample_dataset_dir, tmp_path, capsys):
    page = tmp_path / "refused.html"
    code, err = view(str(runs["A"]), str(runs["B"]), "--task", "eibench_complex", "-o", str(page), capsys=capsys)
    assert code == 2 and "no task 'eibench_complex'" in err and not page.exists()
    [b_complex] = runs["B"].rglob("*_samples_eibench_complex.jsonl")
    code, err = view(str(runs["A"]), str(b_complex), "--dataset", str(sample_dataset_dir), "-o", str(page),
                     capsys=capsys)
    assert code == 2 and "not comparable sample by sample" in err and "different questions" in err
    assert not page.exists()
    # the same run judged with another threshold: another judge, refused as report --paired refuses it
    other = tmp_path / "A2"
    other.mkdir()
    [results] = runs["A"].rglob("*_results.json")
    [samples_file] = runs["A"].rglob("*_samples_eibench_basic.jsonl")
    data = json.loads(results.read_text())
    data["configs"]["eibench_basic"]["metadata"]["eibench_provenance"]["judge"]["options"]["threshold"] = 0.9
    (other / results.name).write_text(json.dumps(data))
    (other / samples_file.name).write_text(samples_file.read_text())
    code, err = view(str(runs["A"]), str(other), "--dataset", str(sample_dataset_dir), "-o", str(page),
                     capsys=capsys)
    assert code == 2 and "different judge" in err and not page.exists()
    assert main(["report", "--paired", str(samples_file), str(other / samples_file.name)]) == 2
    assert "different judge" in capsys.readouterr().err


def test_complex_run_of_a_folder_with_two_tasks(runs, sample_dataset_dir, tmp_path, capsys):
    page = tmp_path / "complex.html"
    code, err = view(str(runs["B"]), "-o", str(page), "--dataset", str(sample_dataset_dir), capsys=capsys)
    assert code == 2 and "--task" in err and "eibench_complex" in err and not page.exists()
    code, err = view(str(runs["B"]), "--task", "eibench_complex", "-o", str(page), "--dataset",
                     str(sample_dataset_dir), capsys=capsys)
    assert code == 0, err
    dom = dump_dom(page)
    rows = dataset_rows(sample_dataset_dir, "complex")
    assert sorted(sample_ids(dom)) == sorted(r["id"] for r in rows) and all("#" in i for i in sample_ids(dom))
    assert not elements(dom, "data-category") or all(a["data-category"] in (None, "") for _, a in
                                                     elements(dom, "data-category"))
    assert 'id="f-category"' not in dom  # complex has no categories to filter by


@pytest.fixture(scope="module")
def scored(sample_dataset_dir, tmp_path_factory) -> dict[str, Path]:
    """`eibench score -o` of official-format answers, judged over HTTP with the paper and the structured prompt;
    answers include an empty one (a generation failure), the hostile one and, for the paper judge, replies the
    judge garbles (judge failures)."""
    out = tmp_path_factory.mktemp("view-scored")
    rows = dataset_rows(sample_dataset_dir, "basic")
    answers = out / "answers.jsonl"
    texts_ = ["" if i == 0 else HOSTILE + " " + r["triggers"][0] if i == 1
              else " ".join(r["triggers"][: 1 + i % 3]) for i, r in enumerate(rows)]
    answers.write_text("".join(json.dumps({r["id"]: t}) + "\n" for r, t in zip(rows, texts_)))
    found = {}
    # garbage 0.8: all three asks of a sample fail with p = 0.51, so of the 7 judged some fail and some pass (at 0.5,
    # a change in how requests are written, as the openai SDK made, left none failed)
    for prompt, garbage in (("paper", 0.8), ("structured", 0.0)):
        with judge_server(FakeJudgeConfig(garbage=garbage, seed=3)) as judge, pytest.MonkeyPatch.context() as env:
            env.setenv("EIBENCH_JUDGE_API_KEY", judge.api_key)
            verdicts = out / f"{prompt}.jsonl"
            code = main(["score", str(answers), "--dataset", str(sample_dataset_dir), "--base-url", judge.base_url,
                         "--judge-model", judge.model, "--prompt", prompt, "--cache-dir", str(out / "cache"),
                         "--no-progress", "-o", str(verdicts)])
            assert code in (0, 3)
            found[prompt] = verdicts
    return found


def test_paper_judge_shows_its_count_and_reply_and_failures(scored, sample_dataset_dir, tmp_path, capsys):
    page = tmp_path / "paper.html"
    code, err = view(str(scored["paper"]), "--dataset", str(sample_dataset_dir), "-o", str(page), capsys=capsys)
    assert code == 0, err
    lines = {json.loads(line)["id"]: json.loads(line) for line in scored["paper"].read_text().splitlines()}
    dom = dump_dom(page)
    triggers = [attrs for _, attrs in elements(dom, "data-trigger")]
    assert triggers and all("data-covered" not in t for t in triggers)  # the paper judge only counts
    assert "the judge counted" in dom and "judge reply" in dom
    judge_failed = sorted(i for i, line in lines.items() if line["failed"])
    generation_failed = sorted(i for i, line in lines.items() if line["generation_failed"])
    assert judge_failed and generation_failed
    assert sorted(sample_ids(dump_dom(page, "#failed=judge"))) == judge_failed
    assert sorted(sample_ids(dump_dom(page, "#failed=generation"))) == generation_failed
    assert [a["data-failed"] for _, a in elements(dom, "data-failed")].count("judge") == len(judge_failed)


def test_structured_judge_marks_each_trigger_with_its_reason(scored, sample_dataset_dir, tmp_path, capsys):
    page = tmp_path / "structured.html"
    assert view(str(scored["structured"]), "--dataset", str(sample_dataset_dir), "-o", str(page))[0] == 0
    lines = [json.loads(line) for line in scored["structured"].read_text().splitlines()]
    dom = dump_dom(page)
    decided = [(a["data-trigger"], a.get("data-covered")) for _, a in elements(dom, "data-trigger")]
    rows = {r["id"]: r for r in dataset_rows(sample_dataset_dir, "basic")}
    expected = []
    for line in lines:
        covered = line["verdict"]["trigger_covered"]
        for k, text in enumerate(rows[line["id"]]["triggers"]):
            expected.append((text, None if covered is None else str(covered[k]).lower()))
    assert decided == expected and ("true" in dict(expected).values())


def test_hostile_answer_stays_text_and_the_page_makes_no_request(sample_dataset_dir, tmp_path, capsys):
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    leak = f"http://127.0.0.1:{server.server_address[1]}/leak"
    try:
        rows = dataset_rows(sample_dataset_dir, "basic")
        answer = HOSTILE + f'<img src="{leak}"><link rel=stylesheet href="{leak}"> ' + rows[0]["triggers"][0]
        answers = tmp_path / "answers.jsonl"
        answers.write_text("".join(json.dumps({r["id"]: answer if i == 0 else "x"}) + "\n"
                                   for i, r in enumerate(rows)))
        verdicts, page = tmp_path / "v.jsonl", tmp_path / "hostile.html"
        assert main(["score", str(answers), "--dataset", str(sample_dataset_dir), "--judge", "embedding",
                     "--cache-dir", str(tmp_path / "cache"), "--no-progress", "-o", str(verdicts)]) == 0
        assert view(str(verdicts), "--dataset", str(sample_dataset_dir), "-o", str(page))[0] == 0
        html = page.read_text()
        assert "</script><script>" not in html.split('id="eibench-data">', 1)[1].split("</script>", 1)[0]
        dom = dump_dom(page)
        assert elements(dom, "data-rendered")  # the page's own script did run
        assert "pwned" not in title(dom) and not elements(dom, "data-pwned")
        assert answer in texts(dom, "answer")  # shown as the text it is
        screenshot(page, tmp_path / "hostile.png")  # drawing it (images, stylesheets) fetches nothing either
    finally:
        server.shutdown()
    assert hits == []


def test_missing_images_are_placeholders_and_a_count(sample_dataset_dir, tmp_path, capsys, monkeypatch):
    from lmms_eval_eibench.data.sample import write_images

    bare = tmp_path / "bare"
    assert main(["build", "--no-images", "--output", str(bare)]) == 0
    rows = dataset_rows(bare, "basic")
    answers, verdicts = tmp_path / "answers.jsonl", tmp_path / "v.jsonl"
    answers.write_text("".join(json.dumps({r["id"]: r["triggers"][0]}) + "\n" for r in rows))
    assert main(["score", str(answers), "--dataset", str(bare), "--judge", "embedding", "--cache-dir",
                 str(tmp_path / "cache"), "--no-progress", "-o", str(verdicts)]) == 0
    monkeypatch.delenv("EIBENCH_IMAGE_ROOT", raising=False)
    page = tmp_path / "none.html"
    code, err = view(str(verdicts), "--dataset", str(bare), "-o", str(page), capsys=capsys)
    assert code == 0 and f"{len(rows)} of {len(rows)} images not found" in err
    assert len(elements(dump_dom(page), "data-missing-image")) == len(rows)
    root = tmp_path / "images"
    write_images([r["image_path"] for r in rows[:3]], root, size=48)
    monkeypatch.setenv("EIBENCH_IMAGE_ROOT", str(root))
    code, err = view(str(verdicts), "--dataset", str(bare), "-o", str(page), capsys=capsys)
    assert code == 0 and f"{len(rows) - 3} of {len(rows)} images not found" in err
    dom = dump_dom(page)
    assert len(elements(dom, "data-missing-image")) == len(rows) - 3
    assert len([a for t, a in elements(dom, "src") if t == "img"]) == 3


def test_screenshot_is_not_blank(page_a, tmp_path):
    from PIL import Image

    png = screenshot(page_a, tmp_path / "a.png")
    with Image.open(png) as image:
        small = image.convert("RGB").resize((128, 140))
    colors = small.getcolors(maxcolors=128 * 140)
    assert len(colors) > 50  # text, thumbnails, marks: a blank or unstyled page has a handful
    most = max(colors)[0]
    assert most < 0.9 * 128 * 140  # no single colour (a blank page's background) covers the page


@pytest.mark.parametrize("content, message", [
    ('{"overall": 1.0, "n": 1, "per_category": {}}', "a summary without samples"),
])
def test_bad_input_names_the_file_and_writes_nothing(content, message, tmp_path, capsys):
    bad = tmp_path / "score.json"
    bad.write_text(content)
    page = tmp_path / "p.html"
    code, err = view(str(bad), "-o", str(page), capsys=capsys)
    assert code == 2 and str(bad) in err and message in err and "Traceback" not in err and not page.exists()


def test_bad_lines_and_folders_are_named(tmp_path, capsys):
    page = tmp_path / "p.html"
    lines = tmp_path / "v.jsonl"
    lines.write_text('{"id": "a.png", "recall": 1, "verdict": {}}\n{"id": "b.png", "recall": 1\n')
    code, err = view(str(lines), "-o", str(page), capsys=capsys)
    assert code == 2 and f"{lines}:2" in err and "malformed JSON" in err and not page.exists()
    code, err = view(str(tmp_path), "-o", str(page), capsys=capsys)
    assert code == 2 and "no EIBench samples file in this folder" in err
    code, err = view(str(lines), "-o", str(tmp_path), capsys=capsys)
    assert code == 2 and "is a folder" in err


def test_local_hf_judge_run_shows_its_count_and_reply(sample_dataset_dir, tmp_path, capsys):
    """The third judge kind: a local transformers judge (a tiny Llama built here that always replies
    `{score: 1/2}`), through `eibench score -o` and onto the page."""
    from test_judge_hf import VERDICT_TOKEN, build_tiny_llama

    model = build_tiny_llama(tmp_path / "judge", rigged=True)
    rows = dataset_rows(sample_dataset_dir, "basic")[:4]
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({r["id"]: r["triggers"][0]}) + "\n" for r in rows))
    verdicts = tmp_path / "hf.jsonl"
    code = main(["score", str(answers), "--dataset", str(sample_dataset_dir), "--allow-partial", "--judge", "hf",
                 "--judge-model", str(model), "--cache-dir", str(tmp_path / "cache"), "--no-progress",
                 "-o", str(verdicts)])
    assert code == 0, capsys.readouterr().err
    page = tmp_path / "hf.html"
    code, err = view(str(verdicts), "--dataset", str(sample_dataset_dir), "-o", str(page), capsys=capsys)
    assert code == 0, err
    dom = dump_dom(page)
    assert sorted(sample_ids(dom)) == sorted(r["id"] for r in rows)
    assert "the judge counted" in dom and VERDICT_TOKEN in dom  # the paper judge's count and its reply, as text
    # the paper protocol: recall = the judge's covered count (1) over the sample's own trigger count
    recalls = dict(zip(sample_ids(dom), (float(a["data-recall"]) for _, a in elements(dom, "data-recall"))))
    assert recalls == pytest.approx({r["id"]: 100 / len(r["triggers"]) for r in rows}, abs=1e-3)
