"""``eibench report --with-blind``: the image-blind floor, scored by each run's own judge, as rows beside the runs.

The floor answer is ``blind.blind_answer``: the same numbered list for every sample of a subset, the 100 most
frequent triggers of the *other* subset (no trigger of the scored subset leaks; 593 words for basic). It never
looks at an image, so whatever it scores is what listing alone buys under that judge. The judge is rebuilt from a
run's provenance record (kind, model, prompt, decoding, reading settings) with the key, cache and endpoint of the
environment (``JudgeSettings.reproducing``: a results file never chooses where the key goes, and a recorded endpoint
other than the configured one is refused before any request), and refused unless the rebuilt judge is the recorded
one (``JudgeIdentity.comparable``).

At a word budget (a run scored with ``--word-budget N``), the floor is the best of several image-blind answers under
that budget, not only the long list cut to N words: short cue sentences packed to N words (``blind.packed_answer``:
the other subset's most frequent trigger words, or a generic emotion vocabulary of the category the basic question
names), built without the scored subset's annotations. The row's At Budget cell is the best of them; its note says
which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmms_eval_eibench.report.results import ReportError, TaskResult, result_from_score

if TYPE_CHECKING:
    from lmms_eval_eibench.judges import JudgeIdentity, JudgeItem

FLOOR_MODEL = "image-blind floor"
"""The model name of the floor rows (``blind.blind_answer``: the other subset's 100 most frequent triggers)."""


Budgets = dict[str, set[int]]
"""Per subset, the word budgets its runs were scored at (empty: none)."""


def _judges_of(results: Sequence[TaskResult]) -> dict[tuple[Any, ...], tuple[JudgeIdentity, Budgets]]:
    """Each distinct judge of the runs (published rows and runs without provenance have none), its subsets and the
    word budgets of their runs."""
    from lmms_eval_eibench.judges import JudgeIdentity

    judges: dict[tuple[Any, ...], tuple[JudgeIdentity, Budgets]] = {}
    for result in results:
        if result.published or result.provenance is None:
            continue
        identity = JudgeIdentity.from_record(result.provenance)
        _, subsets = judges.setdefault(identity.comparable(), (identity, {}))
        budgets = subsets.setdefault(result.subset, set())
        if result.word_budget is not None:
            budgets.add(result.word_budget)
    return judges


def _recorded_judges(results: Sequence[TaskResult]) -> list[JudgeIdentity]:
    """Each distinct judge the runs record, endpoint included (``_judges_of`` groups judges without it)."""
    from lmms_eval_eibench.judges import JudgeIdentity

    found: list[JudgeIdentity] = []
    for result in results:
        if not result.published and result.provenance is not None:
            identity = JudgeIdentity.from_record(result.provenance)
            if identity not in found:
                found.append(identity)
    return found


def _ground_truth(subset: str, dataset: str | None, annotations: str | None) -> list[dict[str, Any]]:
    from lmms_eval_eibench.answers import load_ground_truth
    from lmms_eval_eibench.data.dataset import DatasetIntegrityError, DatasetNotFound

    try:
        return load_ground_truth(subset, dataset, annotations)
    except (DatasetNotFound, DatasetIntegrityError) as exc:
        raise ReportError(f"--with-blind needs the ground truth: {exc} (or pass --annotations DIR)") from None


def floor_results(results: Sequence[TaskResult], *, dataset: str | None = None,
                  annotations: str | None = None) -> list[TaskResult]:
    """The floor answer scored on every sample of each subset the runs cover, once per judge of the runs.

    Raises ``ReportError`` when no run records its judge, when a judge cannot be rebuilt as recorded, or when it
    cannot work (a missing key, an unreachable endpoint): a floor under another judge would mislead."""
    from lmms_eval_eibench import pipeline
    from lmms_eval_eibench.judges import JudgeError, JudgeItem, JudgeSettings, build_engine
    from lmms_eval_eibench.judges.cache import ReplyCacheError
    from lmms_eval_eibench.judges.settings import UntrustedEndpoint
    from lmms_eval_eibench.scoring.blind import blind_answer

    judges = _judges_of(results)
    if not judges:
        raise ReportError("--with-blind scores the floor with the runs' own judge, and no run here records its judge "
                          "(published rows and results without provenance have none)")
    # every judge's settings first: an untrusted endpoint of the second judge must stop the first one's requests too,
    # and every run's endpoint is checked (two runs of one judge at two endpoints: the first hides not the second)
    settings: dict[tuple[Any, ...], JudgeSettings] = {}
    for identity in _recorded_judges(results):
        try:
            settings.setdefault(identity.comparable(), JudgeSettings.reproducing(identity, progress=False))
        except UntrustedEndpoint as exc:
            raise ReportError(f"--with-blind: the runs' judge {identity.title()}: {exc}") from None
        except JudgeError as exc:
            raise ReportError(f"--with-blind: cannot build the judge {identity.title()}: {exc}") from None
    truth: dict[str, list[dict[str, Any]]] = {}
    floors = []
    for key, (identity, subsets) in judges.items():
        try:
            engine = build_engine(settings[key])
        except JudgeError as exc:
            raise ReportError(f"--with-blind: cannot build the judge {identity.title()}: {exc}") from None
        if engine.identity.comparable() != identity.comparable():
            raise ReportError(f"--with-blind: the judge rebuilt from the runs' provenance ({engine.identity.label()}) "
                              f"is not the recorded one ({identity.label()}); unset EIBENCH_JUDGE_* variables that "
                              "change it")
        with engine:
            try:
                engine.preflight()
            except JudgeError as exc:
                if settings[key].kind == "openai" and not settings[key].api_key:
                    # the endpoint's refusal ("rejected the API key") would blame a key nobody set
                    raise ReportError(
                        f"--with-blind: no API key is set for the judge {identity.title()}: set EIBENCH_JUDGE_API_KEY "
                        "(or OPENAI_API_KEY) to the key the runs were judged with (the floor is scored by their own "
                        "judge; its endpoint's check failed without a key, and nothing was judged)") from None
                raise ReportError(f"--with-blind: the judge {identity.title()} cannot work: {exc}") from None
            for subset, budgets in subsets.items():
                for name in ("basic", "complex"):
                    if name not in truth:
                        truth[name] = _ground_truth(name, dataset, annotations)
                other = truth["complex" if subset == "basic" else "basic"]
                answer = blind_answer(other)
                items = [JudgeItem.from_doc(row, answer) for row in truth[subset]]
                try:
                    verdicts = pipeline.judge_answers(engine, items)
                    best = {budget: _best_at_budget(engine, items, verdicts, other, budget, subset)
                            for budget in sorted(budgets)}
                except (JudgeError, ReplyCacheError) as exc:  # the key revoked, the cache's disk full...
                    raise ReportError(f"--with-blind: the judge {identity.title()} stopped: {exc}") from None
                summary = pipeline.summarize_verdicts(items, verdicts, subset)
                for budget in sorted(budgets) or [None]:
                    record = pipeline.provenance_record(engine.identity, dataset=dataset, from_dataset=not annotations,
                                                        annotations=annotations, word_budget=budget,
                                                        samples={"scored": len(items), "subset": len(items)})
                    at_budget, notes = None, ()
                    if budget is not None:
                        name, cut, words = best[budget]
                        at_budget = (budget, cut)
                        notes = (f"{FLOOR_MODEL} ({subset}) at {budget} words: the best of the blind answers is "
                                 f"{name} ({words:.0f} words on average)",)
                    data = pipeline.score_json(summary, subset, engine.metric_name, engine.summary(), record, None,
                                               model=FLOOR_MODEL, answers=[answer] * len(items), at_budget=at_budget)
                    floor = result_from_score(Path(f"{FLOOR_MODEL} ({subset})"), data)
                    floors.append(replace(floor, notes=notes))
    return floors


def _best_at_budget(engine: Any, items: Sequence[JudgeItem], verdicts: Sequence[Any],
                    other_rows: Sequence[Mapping[str, Any]], budget: int,
                    subset: str) -> tuple[str, Any, float]:
    """The best image-blind answer at ``budget`` words under ``engine``: the long list cut to the budget, or short
    cue sentences packed to it (``blind.packed_cues``, per category for basic). Returns its name, the recall
    summary of the answers and their mean words; ties go to the first (the long list)."""
    from lmms_eval_eibench import pipeline
    from lmms_eval_eibench.scoring.blind import packed_answer, packed_cues
    from lmms_eval_eibench.scoring.length import mean_answer_words

    cut_items, cut_verdicts = pipeline.judge_at_budget(engine, items, verdicts, budget)
    candidates = [("the long list cut to the budget", cut_items, cut_verdicts)]
    cues = {category: packed_cues(category if subset == "basic" else None, other_rows)
            for category in dict.fromkeys(item.category for item in items)}
    for kind in next(iter(cues.values())):
        packed = [replace(item, answer=packed_answer(cues[item.category][kind], budget)) for item in items]
        candidates.append((f"{kind} packed to the budget", packed, pipeline.judge_answers(engine, packed)))
    scored = [(name, pipeline.summarize_verdicts(answers, found, subset), answers)
              for name, answers, found in candidates]
    name, summary, answers = max(scored, key=lambda c: c[1].overall if c[1].overall is not None else -1.0)
    return name, summary, mean_answer_words([item.answer for item in answers])


def floor_note(floors: Sequence[TaskResult]) -> str | None:
    """What the floor rows are, for the notes under the table."""
    if not floors:
        return None
    words: Mapping[str, float | None] = {f.subset: f.answer_words for f in floors}
    sizes = ", ".join(f"{subset} {value:.0f} words" for subset, value in words.items() if value is not None)
    return (f"{FLOOR_MODEL}: the same answer for every sample, never looking at an image: the 100 most frequent "
            f"triggers of the other subset as a numbered list ({sizes}), scored by the runs' own judge. A run near "
            "it gains little over listing common triggers; compare at a word budget (eibench score --word-budget). "
            "At Budget: the best image-blind answer within the run's budget (that list cut to it, or short cue "
            "sentences packed to it: the other subset's frequent trigger words, generic emotion cues).")
