"""Read and validate the official EIBench annotation files into records (pure Python, no heavy imports).

The official files key everything by image path; we join questions and ground truth by that path, never by line
number, and stop at the first structural defect with a message that names the file, the line and the fix.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from lmms_eval_eibench import BASIC_CATEGORIES
from lmms_eval_eibench.files import DuplicateKey, InputFileError, read_jsonl, read_text, refuse_duplicate_keys

BASIC_QUESTIONS = Path("EI_Basic") / "user.jsonl"
BASIC_GROUND_TRUTH = Path("EI_Basic") / "basic_ground_truth.json"
COMPLEX_FILE = Path("EI_Complex") / "ec_complex.jsonl"
SOURCE_FILES = (str(BASIC_QUESTIONS), str(BASIC_GROUND_TRUTH), str(COMPLEX_FILE))

# The two image collections and where their images sit under an image root.
SOURCES = {"EmoSet-118k": "EmoSet-118K", "CAER-S": "CAER-S"}

_TRIGGER_LINE = re.compile(r"^\s*(\d+)\s*[.)]\s*(.*?)\s*$")
# Phrases of a model refusing, found in place of a question in the published file (CAER-S/train/Angry/1074.png).
_REFUSAL = re.compile(r"(?i)\b(I'?m unable|I am unable|I'?m sorry|I cannot|I can'?t|as an AI)\b")


class EIBenchDataError(InputFileError):
    """An annotation file is malformed; the message names the file, the line (or key) and the fix."""


@dataclass(frozen=True)
class DataWarning:
    """A known kind of defect that we keep as published but tell the user about."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class Record:
    """One EIBench item: an image, a question about it and its human-checked triggers."""

    id: str
    subset: str
    image_path: str
    question: str
    ground_truth: str
    triggers: tuple[str, ...]
    category: str | None
    source: str
    folder_emotion: str
    question_index: int = 0

    @property
    def n_triggers(self) -> int:
        return len(self.triggers)

    def as_row(self) -> dict[str, Any]:
        """The record as a dataset row (without the image and caption columns)."""
        return {
            "id": self.id,
            "image_path": self.image_path,
            "question": self.question,
            "triggers": list(self.triggers),
            "ground_truth": self.ground_truth,
            "n_triggers": self.n_triggers,
            "category": self.category,
            "source": self.source,
            "folder_emotion": self.folder_emotion,
            "question_index": self.question_index,
        }


@dataclass
class Records:
    """Both subsets plus the warnings found while reading them."""

    basic: list[Record]
    complex: list[Record]
    warnings: list[DataWarning] = field(default_factory=list)

    def subset(self, name: str) -> list[Record]:
        if name not in ("basic", "complex"):
            raise ValueError(f"unknown subset {name!r}: use 'basic' or 'complex'")
        return self.basic if name == "basic" else self.complex

    def image_paths(self) -> list[str]:
        """Every distinct image the two subsets need, in first-use order."""
        return list(dict.fromkeys(r.image_path for r in [*self.basic, *self.complex]))


def find_annotation_root(eibench_dir: str | Path) -> Path:
    """The folder holding ``EI_Basic/`` and ``EI_Complex/``: either ``eibench_dir`` itself or, in a clone of the
    EIBench repository, its ``EIBench/`` subfolder."""
    root = Path(eibench_dir).expanduser()
    for candidate in (root, root / "EIBench"):
        if (candidate / BASIC_QUESTIONS).is_file():
            return candidate
    raise EIBenchDataError(
        str(root),
        f"no {BASIC_QUESTIONS} here or under EIBench/",
        "pass --eibench the folder of a clone of the EIBench repository (github.com/Lum1104/EIBench) "
        "or a folder laid out as EI_Basic/ and EI_Complex/",
    )


def parse_triggers(ground_truth: str, where: str,
                   warnings: list[DataWarning] | None = None) -> tuple[str, ...]:
    """Split a numbered ground-truth list (``1. ...\\n2. ...``) into its triggers, numbers removed.

    An empty numbered item (two published lists end in a bare ``4. ``) is skipped with a warning: it names no
    trigger, while the verbatim ground truth the paper's judge sees keeps it.
    """
    triggers: list[str] = []
    expected = 1
    for line in ground_truth.splitlines():
        if not line.strip():
            continue
        match = _TRIGGER_LINE.match(line)
        if not match:
            raise EIBenchDataError(
                where,
                f"ground-truth line {line.strip()[:60]!r} is not a numbered trigger",
                "write the ground truth as a numbered list, one trigger per line: '1. ...\\n2. ...'",
            )
        number, text = int(match.group(1)), match.group(2)
        if number != expected:
            raise EIBenchDataError(where, f"trigger numbered {number} where {expected} was expected",
                                   "number the triggers 1, 2, 3... in order")
        expected += 1
        if text:
            triggers.append(text)
        elif warnings is not None:
            warnings.append(DataWarning(where, f"trigger {number} is empty and is not counted (kept as published)"))
    if not triggers:
        raise EIBenchDataError(where, "empty trigger list", "give at least one numbered trigger ('1. ...')")
    return tuple(triggers)


def check_image_path(path: str, where: str) -> tuple[str, str]:
    """Validate an official relative image path; return (source, folder emotion)."""
    pure = PurePosixPath(path)
    if not path or path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path) or "\\" in path:
        raise EIBenchDataError(where, f"image path {path!r} is not a relative POSIX path",
                               "use the official relative paths, e.g. 'EmoSet-118k/image/sadness/sadness_01800.jpg'")
    if any(part in ("..", ".") for part in pure.parts):
        raise EIBenchDataError(where, f"image path {path!r} escapes the image root",
                               "remove '..' and '.' components from the path")
    source = SOURCES.get(pure.parts[0])
    if source is None or len(pure.parts) < 3:
        raise EIBenchDataError(where, f"image path {path!r} is neither under EmoSet-118k/ nor CAER-S/",
                               "use the official relative paths, starting with 'EmoSet-118k/' or 'CAER-S/'")
    return source, pure.parts[-2]


def sample_id(image_path: str, question_index: int | None = None) -> str:
    """A sample's id: its image path in basic (one question per image), ``path#k`` for the k-th question (from 0,
    in file order) of an image in complex. ``split_sample_id`` reads it back."""
    return image_path if question_index is None else f"{image_path}#{question_index}"


def split_sample_id(sample: str) -> tuple[str, int | None]:
    """(image path, question index) of a ``sample_id``; the index is None for a basic id."""
    path, hash_sign, index = sample.rpartition("#")
    return (path, int(index)) if hash_sign and index.isdigit() else (sample, None)


def category_of(folder_emotion: str) -> str:
    """Basic category from the image's folder: ``Angry`` stays, ``sadness`` becomes ``Sadness``."""
    return folder_emotion[:1].upper() + folder_emotion[1:].lower()


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    return read_jsonl(path, unique_keys=True, error=EIBenchDataError)


def _single_item(obj: Any, where: str, shape: str) -> tuple[str, Any]:
    if not isinstance(obj, dict) or len(obj) != 1:
        raise EIBenchDataError(where, "expected an object with exactly one key", f"write each line as {shape}")
    return next(iter(obj.items()))


def _question_warnings(question: str, where: str) -> list[DataWarning]:
    warnings = []
    if _REFUSAL.search(question):
        warnings.append(DataWarning(where, "the question reads like a model refusal, not a question (kept as published)"))
    elif question.rstrip().endswith(("'", '"')):
        warnings.append(DataWarning(where, "the question ends with a stray quote (kept as published)"))
    elif not question.rstrip().endswith("?"):
        warnings.append(DataWarning(where, "the question does not end with '?' (kept as published)"))
    return warnings


def _key_lines(path: Path) -> dict[str, int]:
    """{key: line} of a pretty-printed JSON object file (the last line wins), for error messages."""
    lines: dict[str, int] = {}
    for number, line in enumerate(read_text(path, error=EIBenchDataError).splitlines(), start=1):
        match = re.match(r'\s*("(?:[^"\\]|\\.)*")\s*:', line)
        if match:
            lines[json.loads(match.group(1))] = number
    return lines


def _where(path: Path, lines: dict[str, int], key: str) -> str:
    return f"{path}:{lines[key]}" if key in lines else f"{path} (key {key!r})"


def read_basic(root: Path) -> tuple[list[Record], list[DataWarning]]:
    """Join ``user.jsonl`` and ``basic_ground_truth.json`` by image path."""
    questions_file, truth_file = root / BASIC_QUESTIONS, root / BASIC_GROUND_TRUTH
    questions: dict[str, tuple[str, int, str, str]] = {}  # path -> (question, line, source, folder)
    warnings: list[DataWarning] = []
    for number, obj in _json_lines(questions_file):
        where = f"{questions_file}:{number}"
        image_path, question = _single_item(obj, where, '{"<image path>": "<question>"}')
        if not isinstance(question, str) or not question.strip():
            raise EIBenchDataError(where, f"the question for {image_path!r} is empty or not a string",
                                   "give a non-empty question string")
        if image_path in questions:
            raise EIBenchDataError(where, f"duplicate image path {image_path!r} (first on line {questions[image_path][1]})",
                                   "keep one question per image in EI_Basic/user.jsonl")
        source, folder = check_image_path(image_path, where)
        if category_of(folder) not in BASIC_CATEGORIES:  # the metrics know these four only
            raise EIBenchDataError(where, f"basic image {image_path!r} is not in a category folder",
                                   f"basic images live in folders named for {', '.join(BASIC_CATEGORIES)}")
        questions[image_path] = (question, number, source, folder)
        warnings += _question_warnings(question, where)
    if not questions:
        raise EIBenchDataError(str(questions_file), "no questions (the file is empty)",
                               f"restore {BASIC_QUESTIONS} from the EIBench repository")

    text = read_text(truth_file, error=EIBenchDataError)
    try:
        truth = json.loads(text, object_pairs_hook=refuse_duplicate_keys)
    except json.JSONDecodeError as err:
        raise EIBenchDataError(f"{truth_file}:{err.lineno}", f"malformed JSON ({err.msg})",
                               "make the file one JSON object mapping image path to ground truth") from None
    except DuplicateKey as dup:
        raise EIBenchDataError(_where(truth_file, _key_lines(truth_file), dup.key), f"duplicate key {dup.key!r}",
                               "keep one ground truth per image") from None
    if not isinstance(truth, dict):
        raise EIBenchDataError(str(truth_file), "expected one JSON object", "map each image path to its ground truth")

    missing_truth = [p for p in questions if p not in truth]
    if missing_truth:
        p = missing_truth[0]
        raise EIBenchDataError(f"{questions_file}:{questions[p][1]}",
                               f"question for {p!r} has no ground truth in {truth_file.name} "
                               f"({len(missing_truth)} such in all)",
                               f"add the image's ground truth to {truth_file.name} or remove the question")
    key_lines = _key_lines(truth_file)
    missing_question = [p for p in truth if p not in questions]
    if missing_question:
        p = missing_question[0]
        raise EIBenchDataError(_where(truth_file, key_lines, p),
                               f"ground truth for {p!r} has no question in {questions_file.name} "
                               f"({len(missing_question)} such in all)",
                               f"add the image's question to {questions_file.name} or remove the ground truth")

    records = []
    for image_path, (question, _, source, folder) in questions.items():
        ground_truth = truth[image_path]
        where = _where(truth_file, key_lines, image_path)
        if not isinstance(ground_truth, str):
            raise EIBenchDataError(where, "ground truth is not a string", "write it as a numbered list string")
        records.append(Record(
            id=sample_id(image_path), subset="basic", image_path=image_path, question=question, ground_truth=ground_truth,
            triggers=parse_triggers(ground_truth, where, warnings), category=category_of(folder), source=source,
            folder_emotion=folder,
        ))
    return records, warnings


def read_complex(root: Path) -> tuple[list[Record], list[DataWarning]]:
    """Read ``ec_complex.jsonl``: one (image, question, ground truth) per line; id = path#k in file order."""
    path = root / COMPLEX_FILE
    records: list[Record] = []
    warnings: list[DataWarning] = []
    per_image: Counter[str] = Counter()
    seen: dict[tuple[str, str], int] = {}
    shape = '{"<image path>": {"<question>": "1. ...\\n2. ..."}}'
    for number, obj in _json_lines(path):
        where = f"{path}:{number}"
        image_path, inner = _single_item(obj, where, shape)
        question, ground_truth = _single_item(inner, where, shape)
        if not isinstance(ground_truth, str) or not question.strip():
            raise EIBenchDataError(where, "the question is empty or the ground truth is not a string",
                                   f"write each line as {shape}")
        if (image_path, question) in seen:
            raise EIBenchDataError(where, f"duplicate question for {image_path!r} (first on line "
                                   f"{seen[image_path, question]})", "keep each (image, question) pair once")
        seen[image_path, question] = number
        source, folder = check_image_path(image_path, where)
        k = per_image[image_path]
        per_image[image_path] += 1
        records.append(Record(
            id=sample_id(image_path, k), subset="complex", image_path=image_path, question=question,
            ground_truth=ground_truth, triggers=parse_triggers(ground_truth, where, warnings), category=None, source=source,
            folder_emotion=folder, question_index=k,
        ))
        warnings += _question_warnings(question, where)
    if not records:
        raise EIBenchDataError(str(path), "no questions (the file is empty)",
                               f"restore {COMPLEX_FILE} from the EIBench repository; each line is {shape}")
    return records, warnings


def load_records(eibench_dir: str | Path) -> Records:
    """Read both subsets from an EIBench checkout (or the flat layout of its annotation folders)."""
    root = find_annotation_root(eibench_dir)
    basic, basic_warnings = read_basic(root)
    complex_, complex_warnings = read_complex(root)
    return Records(basic=basic, complex=complex_, warnings=basic_warnings + complex_warnings)


def load_captions(path: str | Path, known_images: set[str] | None = None) -> dict[str, str]:
    """Read a captions JSONL (``{"image_path": ..., "caption": ...}`` per line) into {image path: caption}."""
    path = Path(path)
    captions: dict[str, str] = {}
    for number, obj in _json_lines(path):
        where = f"{path}:{number}"
        if not isinstance(obj, dict) or not isinstance(obj.get("image_path"), str) \
                or not isinstance(obj.get("caption"), str):
            raise EIBenchDataError(where, "expected an object with string keys 'image_path' and 'caption'",
                                   'write each line as {"image_path": "...", "caption": "..."}')
        image_path = obj["image_path"]
        if image_path in captions:
            raise EIBenchDataError(where, f"second caption for {image_path!r}", "keep one caption per image")
        if known_images is not None and image_path not in known_images:
            raise EIBenchDataError(where, f"{image_path!r} is not an EIBench image",
                                   "use the official relative image paths (as in the dataset's image_path column)")
        captions[image_path] = obj["caption"]
    return captions
