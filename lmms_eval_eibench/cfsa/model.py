"""`eibench_cfsa`, the lmms-eval model: CFSA (`method.run_cfsa`) over the base model named by `base=`.

lmms-eval imports this module when the model is asked for (`method.manifest()` names `cfsa.model.CFSA`); it
imports lmms_eval (through `lmms_compat`, which holds every contact with lmms-eval beyond its public API), and with
it torch, so nothing imports it at package import time. The rounds, settings and
transcripts are plain Python in the package's other modules; this module only turns lmms-eval requests
into CFSA's questions to the base model and CFSA's answers back into lmms-eval results.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from lmms_eval_eibench.cfsa.method import MODEL_ID, run_cfsa
from lmms_eval_eibench.cfsa.settings import CFSAConfigError, CFSASettings, calls_per_sample
from lmms_eval_eibench.cfsa.summarizer import OpenAISummarizer
from lmms_eval_eibench.cfsa.transcript import Transcript, attach_transcript
from lmms_eval_eibench.config import missing_extra_hint
from lmms_eval_eibench.edge import lmms_compat
from lmms_eval_eibench.edge.lmms_compat import (
    GenerationResult,
    Instance,
    TokenCounts,
    get_model,
    lmms,
    unwrap_generation_output,
)
from lmms_eval_eibench.vocabulary import FAILED_PREFIX

__all__ = ["CFSA"]

log = logging.getLogger("lmms_eval_eibench.cfsa")  # one logger for CFSA, as in cfsa/method.py

Sample = tuple  # a request's arguments: (task prompt, gen_kwargs, doc_to_visual, doc_id, task, split)


def _task_prompt(first_argument: Any) -> Any:
    # With --repeats the same request comes back: its first argument already holds the prompt and transcripts.
    return first_argument["prompt"] if isinstance(first_argument, dict) and "prompt" in first_argument else first_argument


def _user_turn(doc_to_visual: Callable | None, text: str, doc: Any, **_: Any) -> list:
    """`doc_to_messages` for a chat base model: the sample's visuals and one CFSA prompt as one user turn."""
    visuals = doc_to_visual(doc) if doc_to_visual is not None else []
    return lmms_compat.user_turn(visuals or [], text)


def _result(transcript: Transcript) -> GenerationResult:
    counts = None
    if transcript.input_tokens is not None or transcript.output_tokens is not None:
        counts = TokenCounts(input_tokens=transcript.input_tokens, output_tokens=transcript.output_tokens)
    return GenerationResult(text=transcript.response(), token_counts=counts)


def _load_base(name: str, force_simple: bool, base_args: dict[str, Any]) -> lmms:
    if not name:
        raise CFSAConfigError(
            "eibench_cfsa needs a base model: --model_args base=<lmms-eval model>,<its arguments>,... "
            "(e.g. base=llava_hf,pretrained=llava-hf/llava-1.5-7b-hf)"
        )
    if name == MODEL_ID:
        raise CFSAConfigError("eibench_cfsa cannot wrap itself: choose another base= model")
    try:
        base_cls = get_model(name, force_simple=force_simple)
    except ModuleNotFoundError as exc:  # e.g. llava_hf without decord: say which extra brings it
        raise CFSAConfigError(
            f"eibench_cfsa: the base model {name!r} cannot be imported: {missing_extra_hint(exc.name or str(exc))}"
        ) from None
    return base_cls(**base_args)


class CFSA(lmms):
    """lmms-eval model `eibench_cfsa`: Coarse-to-Fine Self-Ask over the base model named by `base=`."""

    is_simple = True  # tasks hand us (prompt, gen_kwargs, doc_to_visual, doc_id, task, split)

    def __init__(
        self, base: str | None = None, batch_size: Any = None, max_batch_size: Any = None, device: Any = None,
        **model_args: Any,
    ) -> None:  # fmt: skip
        super().__init__()
        self.settings, base_args = CFSASettings.from_model_args(model_args)
        self.base_name = str(base or "")
        passed_on = {"batch_size": batch_size, "max_batch_size": max_batch_size, "device": device}
        base_args = {**{k: v for k, v in passed_on.items() if v is not None}, **base_args}
        self.base = _load_base(self.base_name, self.settings.base_force_simple, base_args)
        lmms_compat.share_task_dict(self, self.base)  # lmms-eval fills ours in place; the base looks docs up in it
        self._rank = self.base.rank
        self._world_size = self.base.world_size
        self.summarizer = OpenAISummarizer(self.settings) if self.settings.summarizer == "openai" else None
        if self.summarizer is not None:
            self.summarizer.preflight()
        cost = calls_per_sample(self.settings)
        log.info("CFSA over %s: %d base calls + %d summarizer calls per sample, in %d base rounds",
                 self.base_name, cost["base"], cost["summarizer"], cost["base_rounds"])  # fmt: skip

    # lmms-eval reads these from the model in multi-process runs: they are the base model's. Nothing else is
    # passed through, so e.g. an agentic request type never reaches the base model unasked.
    @property
    def device(self) -> Any:
        return self.base.device

    @property
    def accelerator(self) -> Any:
        own = self.__dict__.get("_accelerator")
        return own if own is not None else self.base.accelerator

    @accelerator.setter
    def accelerator(self, value: Any) -> None:  # lmms-eval gives one to a model that has none (e.g. over dummy)
        self._accelerator = value

    # -- requests to the base model -------------------------------------------------------------------------

    def _base_instance(self, sample: Sample, prompt: str, gen_kwargs: dict, idx: int) -> Instance:
        _, _, doc_to_visual, doc_id, task, split = sample
        chat = not self.base.is_simple
        return lmms_compat.generation_request(
            chat, prompt, gen_kwargs, doc_to_visual, doc_id, task, split, idx,
            doc_to_messages=partial(_user_turn, doc_to_visual, prompt) if chat else None,
        )

    def _gen_kwargs(self, sample: Sample, step: str) -> dict:
        if step == "summary":  # the summary is the task's answer: it gets the task's generation settings
            return copy.deepcopy(sample[1]) or {}
        return {"max_new_tokens": self.settings.round_max_new_tokens, "temperature": 0, "do_sample": False,
                "num_beams": 1}  # fmt: skip

    def _instances(self, samples: Sequence[Sample], step: str, items: Sequence[tuple[int, str]]) -> list[Instance]:
        return [
            self._base_instance(samples[index], prompt, self._gen_kwargs(samples[index], step), k)
            for k, (index, prompt) in enumerate(items)
        ]

    def _call_base(self, instances: list[Instance]) -> list[Any]:
        outputs = self.base.generate_until(instances)
        if len(outputs) != len(instances):
            raise RuntimeError(f"{self.base_name} returned {len(outputs)} answers for {len(instances)} requests")
        return [unwrap_generation_output(o) for o in outputs]

    def _ask(self, samples: Sequence[Sample], step: str, items: Sequence[tuple[int, str]]) -> list[Any]:
        """One base-model round (`cfsa.method.AskFn`): all items in one call; if it raises, one sample at a time."""
        log.info("CFSA round %r: %d requests to %s", step, len(items), self.base_name)
        try:
            return self._call_base(self._instances(samples, step, items))
        except Exception as exc:  # noqa: BLE001 - find out which samples it was, one sample at a time
            if len({index for index, _ in items}) == 1:
                return [exc] * len(items)
            log.warning("CFSA round %r: %s raised %s: %s; retrying sample by sample to isolate the failure",
                        step, self.base_name, type(exc).__name__, exc)  # fmt: skip
        return self._ask_sample_by_sample(samples, step, items)

    def _ask_sample_by_sample(self, samples: Sequence[Sample], step: str, items: Sequence[tuple[int, str]]) -> list[Any]:
        fresh = self._instances(samples, step, items)  # the failed call may have consumed their generation settings
        by_sample: dict[int, list[int]] = {}
        for k, (index, _) in enumerate(items):
            by_sample.setdefault(index, []).append(k)
        results: list[Any] = [None] * len(items)
        for positions in by_sample.values():
            try:
                outputs = self._call_base([fresh[k] for k in positions])
            except Exception as exc:  # noqa: BLE001 - this sample's failure, recorded in its transcript
                outputs = [exc] * len(positions)
            for k, output in zip(positions, outputs):
                results[k] = output
        return results

    # -- lmms-eval interface --------------------------------------------------------------------------------

    def _samples(self, requests: Sequence[Instance]) -> list[Sample]:
        samples = []
        for request in requests:
            args = lmms_compat.generation_args(request)
            if args is None:
                raise CFSAConfigError(
                    f"eibench_cfsa got a request it cannot read from task {request.task_name!r}: it serves "
                    f"generate_until tasks in lmms-eval's (prompt, gen_kwargs, doc_to_visual, doc_id, task, "
                    f"split) layout"
                )
            samples.append((_task_prompt(args[0]), *args[1:]))
        return samples

    def generate_until(self, requests: list[Instance]) -> list[GenerationResult]:
        if lmms_compat.response_cache_requested(requests):
            raise CFSAConfigError(
                "eibench_cfsa does not work with --use_cache: cached answers would come back without their "
                "CFSA transcripts. Run without --use_cache."
            )
        samples = self._samples(requests)
        summarize = self.summarizer.summarize_many if self.summarizer is not None else None
        transcripts = run_cfsa(
            [s[0] for s in samples], partial(self._ask, samples), self.settings, summarize=summarize,
            labels=[f"task {s[4]} doc {s[3]}" for s in samples],
        )  # fmt: skip
        for request, transcript in zip(requests, transcripts):
            attach_transcript(request, transcript.to_log(self.settings, self.base_name))
        n_failed = sum(t.failed for t in transcripts)
        if n_failed:
            log.error("CFSA: %d of %d samples failed; their responses start with %r and their transcripts "
                      "say where and why", n_failed, len(samples), FAILED_PREFIX)  # fmt: skip
        return [_result(t) for t in transcripts]

    def generate_until_multi_round(self, requests: list) -> list:
        raise NotImplementedError("eibench_cfsa answers generate_until tasks only")

    def loglikelihood(self, requests: list) -> list:
        raise NotImplementedError(
            "eibench_cfsa answers generate_until tasks only (CFSA is a generation method); run "
            "loglikelihood / multiple-choice tasks with the base model directly"
        )

    def clean(self) -> None:
        self.base.clean()
        if self.summarizer is not None:
            self.summarizer.close()
