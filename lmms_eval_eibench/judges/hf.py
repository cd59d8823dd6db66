"""A local transformers chat model as the judge (the paper's Meta-Llama-3-8B-Instruct by default).

Batched generation with left padding, greedy by default (temperature > 0 samples with top_p 0.9,
the paper's Llama-3 setting); device and dtype automatic (CUDA + bfloat16 when available, else
CPU + float32) unless EIBench settings say otherwise. Preflight reads only config, tokenizer and chat
template; the weights load once, on the first batch to judge.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from lmms_eval_eibench.judges.base import JudgeItem, LLMJudge, Verdict, judge_messages
from lmms_eval_eibench.judges.errors import PreflightError
from lmms_eval_eibench.judges.protocols import PROTOCOLS
from lmms_eval_eibench.judges.settings import JudgeSettings
from lmms_eval_eibench.scoring.verdict_parser import VerdictParseError

__all__ = ["HFJudge"]

PAPER_TOP_P = PROTOCOLS["paper-llama3"].top_p  # sampling without a top_p: the paper's Llama-3 setting


class HFJudge(LLMJudge):
    """Local chat-model judge; one batch at a time (the model is the bottleneck, not I/O)."""

    kind = "hf"

    def __init__(self, settings: JudgeSettings) -> None:
        super().__init__(settings)
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self.device: str | None = None
        self.dtype: str | None = None

    @property
    def batch_size(self) -> int:
        return self.settings.batch_size or 8

    @property
    def sampling(self) -> bool:
        return self.settings.temperature > 0

    def decoding(self) -> dict[str, Any]:
        decoding: dict[str, Any] = {"max_tokens": self.settings.max_tokens, "temperature": self.settings.temperature}
        if self.sampling:
            decoding["top_p"] = self.settings.top_p if self.settings.top_p is not None else PAPER_TOP_P
        return decoding

    def reply_settings(self) -> dict[str, Any]:
        return {"dtype": self.settings.dtype or "auto"}

    @property
    def loaded(self) -> bool:
        """Whether the model weights are in memory (they load on the first `judge_batch`, not in preflight)."""
        return self._model is not None

    def _cannot_load(self, what: str, exc: Exception) -> PreflightError:
        return PreflightError(
            f"hf judge: cannot load the {what} of model {self.model_name!r} ({type(exc).__name__}: {exc}); set "
            "EIBENCH_JUDGE_MODEL / --judge-model to a local folder or a Hub id you can download"
        )

    def _load_tokenizer(self) -> Any:
        """Config and tokenizer (small files): enough to know the model exists and can chat."""
        if self._tokenizer is None:
            from transformers import AutoConfig, AutoTokenizer

            try:
                AutoConfig.from_pretrained(self.model_name)
                tokenizer = AutoTokenizer.from_pretrained(self.model_name)
            except Exception as exc:  # noqa: BLE001 - any loading problem means the judge cannot run
                raise self._cannot_load("config or tokenizer", exc) from None
            if tokenizer.chat_template is None:
                raise PreflightError(f"hf judge: model {self.model_name!r} has no chat template; use an instruct/chat model")
            try:
                tokenizer.apply_chat_template([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
                                              add_generation_prompt=True, tokenize=False)
            except Exception as exc:  # noqa: BLE001 - a template that cannot render the judge's messages
                raise PreflightError(
                    f"hf judge: the chat template of model {self.model_name!r} cannot render a system + user "
                    f"conversation ({type(exc).__name__}: {exc}); use a chat model whose template accepts both"
                ) from None
            tokenizer.padding_side = "left"  # generation continues from the right edge
            if tokenizer.pad_token_id is None:
                tokenizer.pad_token = tokenizer.eos_token
            self._tokenizer = tokenizer
        return self._tokenizer

    def _load(self) -> tuple[Any, Any]:
        tokenizer = self._load_tokenizer()
        if self._model is None:
            import torch
            from transformers import AutoModelForCausalLM

            cuda = torch.cuda.is_available()
            device = self.settings.device or ("cuda" if cuda else "cpu")
            dtype_name = self.settings.dtype or ("bfloat16" if device.startswith("cuda") else "float32")
            try:
                dtype = getattr(torch, dtype_name)
                model = AutoModelForCausalLM.from_pretrained(self.model_name, dtype=dtype).to(device).eval()
            except Exception as exc:  # noqa: BLE001 - any loading problem means the judge cannot run
                raise self._cannot_load("weights", exc) from None
            self._model = model
            self.device, self.dtype = device, dtype_name
        return tokenizer, self._model

    def preflight(self) -> None:
        """Config, tokenizer and chat template only. The weights (16 GB for the default 8B judge) load on the
        first `judge_batch`: preflight runs when lmms-eval builds the task, in the evaluated model's process and
        on every rank, where loading a second large model would cost memory and time before any answer exists."""
        with self._lock:
            self._load_tokenizer()

    def _stop_ids(self, tokenizer: Any) -> list[int]:
        ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
        eot = tokenizer.convert_tokens_to_ids("<|eot_id|>")  # Llama-3 ends a turn with it
        if isinstance(eot, int) and eot != tokenizer.unk_token_id and eot not in ids:
            ids.append(eot)
        return ids

    def generate(self, items: Sequence[JudgeItem]) -> list[str]:
        """The judge's raw replies for `items` (one batched generate call)."""
        import torch

        with self._lock:
            tokenizer, model = self._load()
            texts = [
                tokenizer.apply_chat_template(judge_messages(self.prompt, item), add_generation_prompt=True, tokenize=False)
                for item in items
            ]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
            options: dict[str, Any] = {"max_new_tokens": self.settings.max_tokens, "pad_token_id": tokenizer.pad_token_id}
            stop = self._stop_ids(tokenizer)
            if stop:
                options["eos_token_id"] = stop
            if self.sampling:
                options.update(do_sample=True, temperature=self.settings.temperature, top_p=self.decoding()["top_p"])
            else:
                options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            with torch.inference_mode():
                output = model.generate(**batch, **options)
            new_tokens = output[:, batch["input_ids"].shape[1]:]
            return tokenizer.batch_decode(new_tokens, skip_special_tokens=True)

    def judge_batch(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        verdicts: dict[int, Verdict] = {}
        errors: dict[int, str] = {}
        raws: dict[int, str] = {}
        todo = list(range(len(items)))
        # Greedy decoding would repeat the same unparseable reply: only sampling is worth retrying.
        rounds = 1 + (self.settings.parse_retries if self.sampling else 0)
        for attempt in range(1, rounds + 1):
            if not todo:
                break
            replies = self.generate([items[i] for i in todo])
            still: list[int] = []
            for i, raw in zip(todo, replies):
                item = items[i]
                raws[i] = raw
                try:
                    verdicts[i] = self.read(item, raw, attempt)
                except VerdictParseError as exc:
                    errors[i] = f"unparseable judge reply: {exc}"
                    still.append(i)
            todo = still
        for i in todo:
            verdicts[i] = Verdict.failure(items[i], errors[i], raws[i], rounds)
        return [verdicts[i] for i in range(len(items))]

    def close(self) -> None:
        with self._lock:
            self._model = self._tokenizer = None
