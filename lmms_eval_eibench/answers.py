"""Saved answers for ``eibench score``, read in one pass: the file's kind is told once (``open_answers``), one
reader per kind turns its lines into ``SampleText``s, the subset is decided, the ground truth loaded once, and
the texts are matched with it (``read_inputs``).

The kinds (``AnswersFile.kind``):

- ``SAMPLES``: an lmms-eval ``--log_samples`` JSONL (its layout is ``lmms_outputs``');
- ``OFFICIAL``: the official answer format, ``{"<image path>": "<answer>"}`` per line; in complex, the k-th line
  of an image path answers that image's k-th question, by order;
- ``QUESTION_KEYED``: ``{"<image path>": {"<question>": "<answer>"}}`` per line, the shape of
  ``ec_complex.jsonl``: matched by question text, in any order;
- refused with a message saying what they are: an lmms-eval results file, an ``eibench score --json`` output,
  another JSON document (``refuse_json_document``); another benchmark's samples (``refuse_other_benchmark``).

Saved judge replies in the official format (``eibench score --from-verdicts``) are read by the official reader.
A file whose every answer is its question word for word (the benchmark's own questions file,
``EI_Basic/user.jsonl``, has the answers file's shape) is refused; a single echoed answer in a real file is scored
0, not judged (``pipeline.judge_answers``).

The subset is read from the file (task name, ``doc`` fields) or from which subset its image paths belong to; the
ground truth comes from a built dataset or the official annotation files. Every sample must be answered, once,
unless partial input is allowed. Bad input raises ``ScoreInputError`` naming file and line and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lmms_eval_eibench.data.records import sample_id, split_sample_id
from lmms_eval_eibench.edge.lmms_outputs import (
    is_sample,
    is_samples_name,
    read_results,
    results_beside,
    sample_answer,
    sample_doc,
)
from lmms_eval_eibench.edge.lmms_outputs import task_of_samples as task_from_path
from lmms_eval_eibench.files import InputFileError, read_jsonl
from lmms_eval_eibench.vocabulary import (
    CAPTIONS_TASK,
    model_name,
    question_key,
    repeats_question,
    run_model_name,
    task_shape,
)

SAMPLES, OFFICIAL, QUESTION_KEYED = "lmms-eval samples", "official answers", "question-keyed answers"
Lines = Sequence[tuple[int, Any]]


class ScoreInputError(InputFileError):
    """Unusable input; the message names the file and line (or key) and the fix."""


@dataclass(frozen=True)
class SampleText:
    """One line of the input: a sample id and its text (an answer, or a judge reply)."""

    id: str
    text: str
    where: str
    question: str | None = None
    """The question the line names (the question-keyed form); ``id`` is then resolved by it
    (``key_by_question``)."""


@dataclass(frozen=True)
class AnswersFile:
    """An input file read once: its lines and its kind (``SAMPLES``, ``OFFICIAL``, ``QUESTION_KEYED``)."""

    path: Path
    kind: str
    lines: Lines


def _kind(first: Any) -> str:
    if is_sample(first):
        return SAMPLES
    if isinstance(first, dict) and len(first) == 1 and isinstance(next(iter(first.values())), dict):
        return QUESTION_KEYED
    return OFFICIAL


def open_answers(path: Path, *, fix: str | None = None, empty_ok: bool = False) -> AnswersFile:
    """The file's lines, read once, and its kind; a results file, a score output or another JSON document is
    refused here, saying what it is."""
    fix = fix or _ANSWERS_FIX
    refuse_json_document(path, fix=fix)
    lines = list(read_jsonl(path, error=ScoreInputError))
    if not lines:
        if empty_ok:
            return AnswersFile(path, OFFICIAL, lines)
        raise ScoreInputError(str(path), "no answers (the file is empty)")
    refuse_json_document(path, fix=fix, first=lines[0][1])
    return AnswersFile(path, _kind(lines[0][1]), lines)


# -- lmms-eval samples ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Sample:
    """A logged sample's answer and what names its sample: the doc's id (or image path), else lmms-eval's
    ``doc_id`` (the dataset row), resolved once the ground truth is loaded."""

    text: str
    where: str
    doc: Mapping[str, Any]
    doc_id: Any


def _doc_sample_id(doc: Mapping[str, Any], subset: str) -> str | None:
    if isinstance(doc.get("id"), str):
        return doc["id"]
    path = doc.get("image_path")
    if not isinstance(path, str):
        return None
    if subset == "complex":
        index = doc.get("question_index")
        return sample_id(path, index) if isinstance(index, int) else None
    return path


def _read_samples(file: AnswersFile, subset: str | None) -> tuple[str, list[_Sample]]:
    """An lmms-eval samples file's subset (checked against ``--subset``) and its answers."""
    path, lines = file.path, file.lines
    refuse_other_benchmark(path, lines)
    file_subset, evidence = subset_in_file(path, lines)
    if subset and file_subset and subset != file_subset:
        raise ScoreInputError(evidence, f"the file answers {file_subset}, not --subset {subset}",
                              f"drop --subset, or pass the {subset} samples file")
    subset = subset or file_subset
    if subset is None:
        raise ScoreInputError(str(path), "the samples do not say their subset (no task name, no doc ids)",
                              "pass --subset basic or --subset complex")
    samples = []
    for number, obj in lines:
        where = f"{path}:{number}"
        if not is_sample(obj):
            raise ScoreInputError(where, "not an lmms-eval sample (no doc_id/resps)", "do not mix formats in one file")
        answer = sample_answer(obj)
        if not isinstance(answer, str):
            raise ScoreInputError(
                where, "no answer text in filtered_resps or resps",
                "pass the samples file of a generation task run with --log_samples",
            )
        samples.append(_Sample(answer, where, sample_doc(obj), obj.get("doc_id")))
    return subset, samples


def _sample_texts(samples: Sequence[_Sample], subset: str, ids_by_index: Sequence[str]) -> list[SampleText]:
    """The samples named: by their doc, else by ``doc_id`` as the dataset row index."""
    texts = []
    for sample in samples:
        item_id = _doc_sample_id(sample.doc, subset)
        if item_id is None:
            doc_id = sample.doc_id
            if not isinstance(doc_id, int) or not 0 <= doc_id < len(ids_by_index):
                raise ScoreInputError(
                    sample.where, f"cannot tell which sample this is: doc has no 'id' (or image_path) and doc_id "
                    f"{doc_id!r} is not a row of the {subset} split (0..{len(ids_by_index) - 1})",
                    "check --subset, or log samples with the doc's id column",
                )
            item_id = ids_by_index[doc_id]
        texts.append(SampleText(item_id, sample.text, sample.where))
    return texts


def method_of_samples(lines: Lines) -> str | None:
    """``cfsa`` when a logged sample's ``input`` holds a CFSA transcript (see cfsa/transcript.attach_transcript)."""
    for _, obj in lines:
        if isinstance(obj, dict) and isinstance(obj.get("input"), dict) and "cfsa" in obj["input"]:
            return "cfsa"
    return None


# -- official and question-keyed answers (and saved judge replies) --------------------------------------------------

@dataclass(frozen=True)
class _Official:
    """One line ``{"<image path>": "<text>"}`` (or ``{"<image path>": {"<question>": "<text>"}}``); ``k`` counts
    the earlier lines of the same image (complex's k-th question)."""

    image_path: str
    k: int
    text: str
    where: str
    question: str | None


def _read_official(file: AnswersFile, what: str = "answer") -> list[_Official]:
    """Every line's image path, text and (question-keyed form) question, in file order; one form per file."""
    out: list[_Official] = []
    seen: dict[str, int] = {}
    for number, obj in file.lines:
        where = f"{file.path}:{number}"
        if is_sample(obj):
            raise ScoreInputError(where, "an lmms-eval sample line", "pass this file as ANSWERS, not --from-verdicts")
        if not isinstance(obj, dict) or len(obj) != 1:
            raise ScoreInputError(where, f"expected one object {{\"<image path>\": \"<{what}>\"}} per line")
        (image_path, text), = obj.items()
        question = None
        if isinstance(text, dict):
            if len(text) != 1 or not all(isinstance(v, str) for v in text.values()):
                raise ScoreInputError(where, f"the question-keyed form is {{\"<image path>\": {{\"<question>\": "
                                      f"\"<{what}>\"}}}}: one question and its {what} (a string) per line")
            (question, text), = text.items()
        if not isinstance(text, str):
            raise ScoreInputError(where, f"the {what} for {image_path!r} must be a string, got {type(text).__name__}")
        k = seen.get(image_path, 0)
        seen[image_path] = k + 1
        out.append(_Official(image_path, k, text, where, question))
    keyed = [line for line in out if line.question is not None]
    if keyed and len(keyed) != len(out):
        plain = next(line for line in out if line.question is None)
        raise ScoreInputError(plain.where, f"a line without its question in a file whose line {keyed[0].where} "
                              "names its question", _KEYED_FIX)
    return out


def _official_texts(lines: Sequence[_Official], subset: str) -> list[SampleText]:
    """The lines as samples of ``subset``: basic has one line per image, complex's k-th line is question k."""
    texts = []
    for line in lines:
        if subset == "basic" and line.k:
            raise ScoreInputError(line.where, f"{line.image_path!r} appears again; basic has one question per image",
                                  "keep one line per image")
        texts.append(SampleText(sample_id(line.image_path, line.k if subset == "complex" else None), line.text,
                                line.where, line.question))
    return texts


def infer_official_subset(path: Path, lines: Sequence[_Official], dataset: str | None,
                          annotations: str | None) -> tuple[str, list[dict[str, Any]]]:
    """The subset whose image paths an official-format file answers (the format does not say), and its rows.
    Errors name the real cause: a path in neither subset, paths of both subsets."""
    paths = [line.image_path for line in lines]
    rows = {subset: load_ground_truth(subset, dataset, annotations) for subset in ("basic", "complex")}
    known = {subset: {split_sample_id(row["id"])[0] for row in subset_rows} for subset, subset_rows in rows.items()}
    for line in lines:
        if not any(line.image_path in k for k in known.values()):
            raise ScoreInputError(line.where, f"image path {line.image_path!r} is in neither the basic nor the "
                                  "complex ground truth",
                                  "answer the EIBench image paths, as written in the annotations")
    fits = [subset for subset in ("basic", "complex") if all(p in known[subset] for p in paths)]
    if not fits:
        first = {s: next(line.where for line in lines
                         if line.image_path in known[s] and line.image_path not in known[o])
                 for s, o in (("basic", "complex"), ("complex", "basic"))}
        raise ScoreInputError(str(path), f"the file mixes basic ({first['basic']}) and complex ({first['complex']}) "
                              "image paths", "score each subset's answers from a file of its own")
    if len(fits) == 2 and len(set(paths)) < len(paths):
        fits = ["complex"]  # a repeated path is complex's next question of that image; basic has one per image
    if len(fits) == 1:
        return fits[0], rows[fits[0]]
    raise ScoreInputError(str(path), "cannot tell which subset this file answers (its image paths fit both)",
                          "pass --subset basic or --subset complex")


_KEYED_FIX = ('use one form per file: {"<image path>": {"<question>": "<answer>"}} on every line (matched by '
              'question), or {"<image path>": "<answer>"} on every line (matched by order within an image)')


def key_by_question(texts: Sequence[SampleText], truth_rows: Sequence[Mapping[str, Any]],
                    subset: str) -> list[SampleText]:
    """Texts of the question-keyed form get the id of the sample of their image whose question they name
    (``vocabulary.question_key``: case and spacing aside; a question an image has twice, in order). Plain texts
    keep theirs (``_read_official`` refuses a file mixing both forms)."""
    keyed = [text for text in texts if text.question is not None]
    if not keyed:
        return list(texts)
    by_image: dict[str, dict[str, list[str]]] = {}
    for row in truth_rows:
        questions = by_image.setdefault(split_sample_id(row["id"])[0], {})
        questions.setdefault(question_key(str(row.get("question") or "")), []).append(row["id"])
    used: dict[tuple[str, str], int] = {}
    resolved = []
    for text in keyed:
        image_path, key = split_sample_id(text.id)[0], question_key(text.question or "")
        questions = by_image.get(image_path)
        if questions is None:
            raise ScoreInputError(text.where, f"image path {image_path!r} is not in the {subset} ground truth",
                                  f"is {subset} the right subset (--subset)?")
        if key not in questions:
            raise ScoreInputError(text.where, f"no question of {image_path!r} reads {text.question!r} (its "
                                  f"questions: {'; '.join(map(repr, questions))})",
                                  "copy the question as it is in the annotations")
        n = used.get((image_path, key), 0)
        used[(image_path, key)] = n + 1
        ids = questions[key]
        resolved.append(replace(text, id=ids[min(n, len(ids) - 1)]))  # one too many: match() says "twice"
    return resolved


def refuse_questions_file(texts: Sequence[SampleText], truth: Mapping[str, Mapping[str, Any]]) -> None:
    """A file whose every answer is its sample's question word for word has no answer to score: the benchmark's
    questions file (``EI_Basic/user.jsonl``, the answers file's shape) or a model that only echoed."""
    if texts and all(repeats_question(text.text, truth[text.id].get("question")) for text in texts):
        raise ScoreInputError(
            texts[0].where, f"every answer ({len(texts)}) is its question word for word: these are the "
            "benchmark's questions (EI_Basic/user.jsonl has the answers file's shape), not a model's answers",
            "score the file of the model's answers to these questions")


# -- the subset and the ground truth ------------------------------------------------------------------------------

def _task_subset(task: str | None) -> str | None:
    shape = task_shape(task)
    return shape[0] if shape is not None else None


_TASK_KEYS = ("task_name", "task")
_DOC_KEYS = ("id", "image_path", "ground_truth", "triggers", "n_triggers", "question_index")  # EIBench columns


_CAPTIONS_SAMPLES = (f"the samples of the {CAPTIONS_TASK} task: image descriptions for the caption column, not answers "
                     "to judge")
_CAPTIONS_FIX = ("turn them into a --captions file with `eibench captions {path} -o captions.jsonl`; to score a model, "
                 "pass the samples file of an eibench_basic* or eibench_complex* task")


def refuse_other_benchmark(path: Path, lines: Sequence[tuple[int, Any]]) -> None:
    """Another benchmark's samples are never scored as EIBench, whatever --subset or --allow-partial say: a task
    name (in the file name or a line) that is not an EIBench task, or a logged doc without EIBench's fields."""
    fix = "pass the samples file of an eibench_* task (OUT/<model>/<time>_samples_eibench_basic.jsonl)"
    task = task_from_path(path)
    if task == CAPTIONS_TASK:
        raise ScoreInputError(str(path), _CAPTIONS_SAMPLES, _CAPTIONS_FIX.format(path=path))
    if task is not None and task_shape(task) is None:
        raise ScoreInputError(str(path), f"the samples of task {task!r}, not an EIBench task", fix)
    for number, obj in lines:
        if not isinstance(obj, dict):
            continue
        for key in _TASK_KEYS:
            named = obj.get(key)
            if named == CAPTIONS_TASK:
                raise ScoreInputError(f"{path}:{number}", _CAPTIONS_SAMPLES, _CAPTIONS_FIX.format(path=path))
            if isinstance(named, str) and task_shape(named) is None:
                raise ScoreInputError(f"{path}:{number}", f"{key} {named!r} is not an EIBench task", fix)
        doc = obj.get("doc")
        if isinstance(doc, dict) and doc and not any(k in doc for k in _DOC_KEYS):
            raise ScoreInputError(f"{path}:{number}", "the logged doc has none of EIBench's columns (keys: "
                                  f"{', '.join(sorted(map(str, doc))[:6])}): another benchmark's sample", fix)


def subset_in_file(path: Path, lines: Sequence[tuple[int, Any]]) -> tuple[str | None, str]:
    """The subset an lmms-eval samples file says it answers (its task name in the file name, its docs' ids and
    categories), with where it says so; (None, "") when it does not say. Raises ScoreInputError when the file
    contradicts itself (e.g. a complex task's file holding basic docs)."""
    evidence: list[tuple[str, str]] = []
    task_subset = _task_subset(task_from_path(path))
    if task_subset:
        evidence.append((task_subset, f"{path.name}: task {task_from_path(path)}"))
    for number, obj in lines:
        doc = obj.get("doc") if isinstance(obj, dict) and isinstance(obj.get("doc"), dict) else {}
        found = None
        if isinstance(doc.get("id"), str):
            found = "basic" if split_sample_id(doc["id"])[1] is None else "complex"
        elif doc.get("category") is not None:
            found = "basic"
        if found:
            evidence.append((found, f"{path}:{number}: doc {doc.get('id', doc.get('image_path'))!r}"))
    subsets = {subset for subset, _ in evidence}
    if len(subsets) > 1:
        first = {subset: where for subset, where in reversed(evidence)}
        raise ScoreInputError(
            str(path), f"the file mixes basic ({first['basic']}) and complex ({first['complex']}) answers",
            "score each subset's samples file on its own")
    return (evidence[0][0], evidence[0][1]) if evidence else (None, "")


# -- what a file is, when it is no answers ---------------------------------------------------------------------------

_ANSWERS_FIX = ("pass the samples file OUT/<model>/<time>_samples_<task>.jsonl (run lmms-eval with --log_samples), "
                "or answers in the official format, one JSON object per line")
_RESULTS_FILE = "an lmms-eval results file (a run's metrics): tables come from `eibench report`"
_SCORE_OUTPUT = "an `eibench score --json` output (a run's recall): tables come from `eibench report`"


def _document_kind(data: Any) -> str | None:
    """What a whole-file JSON object is, when it is one of ours (a results file, a score output)."""
    if isinstance(data, dict) and not is_sample(data):
        if isinstance(data.get("results"), dict):
            return _RESULTS_FILE
        if "overall" in data and ("per_category" in data or "n" in data):
            return _SCORE_OUTPUT
    return None


def refuse_json_document(path: Path, *, error: type[InputFileError] = ScoreInputError, fix: str = _ANSWERS_FIX,
                         first: Any = None) -> None:
    """A results file, a score output or another JSON document given where JSON lines (samples, answers) are
    expected gets a message saying what it is, not "malformed JSON". ``first``: the file's first line already
    parsed (a document written on one line reads as JSON lines and is told apart by its keys)."""
    if first is not None:
        kind = _document_kind(first)
        if kind:
            raise error(str(path), f"this is {kind}", fix)
        return
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return  # read_jsonl names the real problem
    head = text[:4096].lstrip()
    if head.startswith("{") and "\n" in head and head.split("\n", 1)[0].strip() == "{":
        try:
            kind = _document_kind(json.loads(text))
        except json.JSONDecodeError:
            kind = None
        raise error(str(path), f"this is {kind or 'a JSON document, not JSON lines'}", fix)


def read_answer_texts(path: Path) -> list[SampleText]:
    """Every answer of an lmms-eval ``--log_samples`` JSONL or an official answers file, in file order, with no
    ground truth (coherence needs none); a sample is named by its ``doc.id`` / image path where the file says."""
    fix = "pass an lmms-eval --log_samples file (OUT/<model>/<time>_samples_<task>.jsonl) or the official answer format"
    file = open_answers(path, fix=fix, empty_ok=True)
    texts: list[SampleText] = []
    for number, obj in file.lines:
        where = f"{path}:{number}"
        if is_sample(obj):
            answer = sample_answer(obj)
            doc = sample_doc(obj)
            name = doc.get("id") or doc.get("image_path") or f"doc_id {obj.get('doc_id')}"
        elif isinstance(obj, dict) and len(obj) == 1:
            (name, answer), = obj.items()
            if isinstance(answer, dict) and len(answer) == 1:  # the question-keyed form
                (_, answer), = answer.items()
        else:
            raise ScoreInputError(where, "neither an lmms-eval sample nor one {\"<image path>\": \"<answer>\"} object",
                                  "pass an lmms-eval --log_samples file or the official answer format")
        if not isinstance(answer, str):
            raise ScoreInputError(where, "no answer text on this line", "each line needs the model's answer as a string")
        texts.append(SampleText(str(name), answer, where))
    return texts


# -- matching with the ground truth -------------------------------------------------------------------------------

def load_ground_truth(subset: str, dataset: str | None, annotations: str | None) -> list[dict[str, Any]]:
    """The subset's rows (id, question, ground_truth, triggers, category), in dataset order."""
    columns = ["id", "question", "ground_truth", "triggers", "category"]
    if annotations:
        from lmms_eval_eibench.data.records import load_records

        return [{c: r.as_row()[c] for c in columns} for r in load_records(annotations).subset(subset)]
    from lmms_eval_eibench.data.dataset import load_subset

    split = load_subset(subset, dataset)
    return split.select_columns(columns).to_list()


def match(texts: Sequence[SampleText], truth: Mapping[str, Mapping[str, Any]], subset: str) -> None:
    """Every text names a known sample of `subset`, at most once."""
    problems: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for text in texts:
        if text.id not in truth:
            problems.append((text.where, f"sample {text.id!r} is not in the {subset} ground truth"))
        elif text.id in seen:
            problems.append((text.where, f"sample {text.id!r} appears twice (first at {seen[text.id]})"))
        else:
            seen[text.id] = text.where
    if problems:
        (where, problem), rest = problems[0], problems[1:10]
        listed = "".join(f"\n{w}: {p}" for w, p in rest)
        more = f"\n... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ScoreInputError(where, problem + listed + more, f"is {subset} the right subset (--subset)?")


def missing_samples(texts: Sequence[SampleText], truth_ids: Sequence[str]) -> list[str]:
    """Ids of the subset that no text answers, in dataset order."""
    answered = {text.id for text in texts}
    return [item_id for item_id in truth_ids if item_id not in answered]


def model_from_path(path: Path) -> str | None:
    """The evaluated model of an lmms-eval samples file, named as the report names it (``vocabulary.model_name``):
    from the results file lmms-eval wrote beside it, else from its model folder (``llava-hf__llava-1.5-7b-hf`` is
    ``llava-hf/llava-1.5-7b-hf``); None when the path does not look like lmms-eval's."""
    if not is_samples_name(path):
        return None
    beside = results_beside(path)
    data = read_results(beside) if beside is not None else None
    if isinstance(data, dict) and (name := run_model_name(data)):
        return name
    folder = path.resolve().parent.name
    return model_name(folder) if folder else None


@dataclass(frozen=True)
class Inputs:
    """What `eibench score` scores, read and checked before any judge request."""

    source: Path
    subset: str
    texts: list[SampleText]
    truth: dict[str, dict[str, Any]]
    n_subset: int
    method: str | None = None
    """``cfsa`` when the samples carry CFSA transcripts (``input.cfsa``): the report keeps such runs apart."""
    kind: str = OFFICIAL
    """What the file is (``SAMPLES``, ``OFFICIAL``, ``QUESTION_KEYED``)."""


def read_inputs(source: Path, *, subset: str | None = None, dataset: str | None = None,
                annotations: str | None = None, judge_replies: bool = False, allow_partial: bool = False) -> Inputs:
    """The answers (or, ``judge_replies``, saved judge replies), their subset and ground truth; every sample of the
    subset answered unless ``allow_partial``. The file is read once, its kind told once, the ground truth loaded
    once."""
    file = open_answers(source)
    samples: list[_Sample] = []
    official: list[_Official] = []
    truth_rows = None
    if file.kind == SAMPLES and not judge_replies:
        subset, samples = _read_samples(file, subset)
    else:
        official = _read_official(file, what="judge reply" if judge_replies else "answer")
        if subset is None:
            subset, truth_rows = infer_official_subset(source, official, dataset, annotations)
    if truth_rows is None:
        truth_rows = load_ground_truth(subset, dataset, annotations)
    truth = {row["id"]: row for row in truth_rows}
    ids = [row["id"] for row in truth_rows]
    if file.kind == SAMPLES and not judge_replies:
        texts = _sample_texts(samples, subset, ids)
    else:
        texts = key_by_question(_official_texts(official, subset), truth_rows, subset)
    match(texts, truth, subset)
    if not judge_replies:
        refuse_questions_file(texts, truth)
    missing = missing_samples(texts, ids)
    if missing and not allow_partial:
        shown = ", ".join(repr(m) for m in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ScoreInputError(
            str(source), f"{len(missing)} of the {len(truth_rows)} {subset} samples have no "
            f"{'saved judge reply' if judge_replies else 'answer'} (first: {shown})",
            "answer every sample (a partial result is not comparable), or pass --allow-partial to score the "
            f"{len(texts)} answered ones; the result then says {len(texts)} of {len(truth_rows)}")
    method = method_of_samples(file.lines) if file.kind == SAMPLES else None
    return Inputs(source, subset, texts, truth, len(truth_rows), method, file.kind)
