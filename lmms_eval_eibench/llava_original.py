"""lmms-eval's `llava` model (checkpoints in the original LLaVA layout) on this stack: what it needs, why it stops.

lmms-eval's `--model llava` runs checkpoints in haotian-liu/LLaVA's own layout (`liuhaotian/llava-v1.5-7b`, a
`llava_llama` config whose `mm_vision_tower` names a CLIP) through that repository's `llava` package. Two things
stand in a user's way, and lmms-eval reports neither well:

1. Without the `llava` package lmms-eval swallows the import error (at DEBUG level) and fails later with
   `NameError: name 'get_model_name_from_path' is not defined`. The package is on PyPI as `llava-torch`, which pins
   an old torch and transformers, so it must be installed without its dependencies (`INSTALL`).
2. With it installed, checkpoints load, but generation cannot work with today's transformers: transformers (5.24.0 here)
   renamed the KV-cache argument of the models' `forward` from `past_key_values` to `cache` and its generation
   loop passes `cache=`; LLaVA's `LlavaLlamaForCausalLM.forward` has a fixed signature (`past_key_values`, no
   `**kwargs`), so the first generation step raises `TypeError: ... unexpected keyword argument 'cache'`. Every
   EIBench task generates. Fixing it means changing LLaVA's class, which we do not do (no patching of third-party
   code); the working path is the checkpoint's Hugging Face conversion through lmms-eval's `llava_hf` (`USE_INSTEAD`).

`problem()` says which of these applies, checked against the installed code (not version numbers), so the message
disappears by itself once either side changes. The discovery hook prints it when lmms-eval builds a task index for
`--model llava`, i.e. before the model loads. Importing this module is cheap; `problem()` imports torch.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys

__all__ = ["INSTALL", "MODEL", "PACKAGE", "USE_INSTEAD", "problem", "report"]

MODEL = "llava"  # lmms-eval's model name for the original layout
PACKAGE = "llava-torch==1.2.2.post1"  # provides the `llava` package; the Makefile installs the same
INSTALL = f"pip install --no-deps {PACKAGE}"
USE_INSTEAD = (
    "--model llava_hf --model_args pretrained=llava-hf/llava-1.5-7b-hf (the llava-hf conversions of the "
    "original checkpoints, e.g. llava-hf/llava-v1.6-vicuna-7b-hf for LLaVA-NeXT; install the extra "
    "lmms-eval-eibench[llava])"
)
# The modules lmms_eval/models/simple/llava.py imports (inside a try that hides the error).
_LMMS_EVAL_IMPORTS = ("llava.constants", "llava.conversation", "llava.mm_utils", "llava.model.builder")
_SYMPTOM = "NameError: name 'get_model_name_from_path' is not defined"


def _import_error() -> str | None:
    """The error lmms-eval's `llava` model swallows when it imports the `llava` package, or None."""
    try:
        for module in _LMMS_EVAL_IMPORTS:
            importlib.import_module(module)
    except Exception as err:  # lmms-eval catches every exception here too
        return f"{type(err).__name__}: {err}"
    return None


def _cache_argument_gap() -> str | None:
    """The keyword today's transformers passes to a model's `forward` while generating that LLaVA's
    `LlavaLlamaForCausalLM.forward` cannot take, or None."""
    from llava.model.language_model.llava_llama import LlavaLlamaForCausalLM
    from transformers import LlamaForCausalLM

    llama = inspect.signature(LlamaForCausalLM.forward).parameters  # follows transformers' deprecation wrappers
    llava = inspect.signature(LlavaLlamaForCausalLM.forward).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in llava.values())
    if "cache" in llama and "cache" not in llava and not takes_any:
        return "cache"
    return None


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def of(dist: str) -> str:
        try:
            return version(dist)
        except PackageNotFoundError:
            return "?"

    return f"transformers {of('transformers')}, llava-torch {of('llava-torch')}"


@functools.lru_cache(maxsize=1)
def problem() -> str | None:
    """Why lmms-eval's `llava` model cannot run EIBench in this environment (what to install or use instead),
    or None when nothing known stands in the way."""
    error = _import_error()
    if error is not None:
        return (
            f"lmms-eval's `{MODEL}` model needs the original LLaVA package `llava`, which does not import "
            f"({error}); lmms-eval hides this and then stops with `{_SYMPTOM}`. Install it without its "
            f"dependencies (it pins an old torch and transformers): `{INSTALL}`. Note that even then it cannot "
            f"generate with the transformers installed here (see docs/lmms-eval.md); use {USE_INSTEAD}."
        )
    keyword = _cache_argument_gap()
    if keyword is not None:
        return (
            f"lmms-eval's `{MODEL}` model loads original-layout LLaVA checkpoints here but cannot generate "
            f"({_versions()}): transformers passes the KV cache to the model's forward as `{keyword}=`, which "
            f"LLaVA's LlavaLlamaForCausalLM.forward does not take, so generation stops with `TypeError: "
            f"LlavaLlamaForCausalLM.forward() got an unexpected keyword argument '{keyword}'`. EIBench tasks "
            f"generate, so none of them can run this way. Use {USE_INSTEAD}."
        )
    return None


_reported = False


def report(model_name: str | None) -> None:
    """Print `problem()` on stderr once per process when `model_name` is lmms-eval's `llava` model. Never raises:
    it runs inside lmms-eval's task indexing, which must go on for other tasks (loglikelihood tasks still work)."""
    global _reported
    if model_name != MODEL or _reported:
        return
    _reported = True
    try:
        message = problem()
    except Exception as err:  # pragma: no cover - a check that breaks must not break the run
        message = None
        print(f"lmms-eval-eibench: could not check the `llava` package ({type(err).__name__}: {err})",
              file=sys.stderr)
    if message:
        print(f"lmms-eval-eibench: {message}", file=sys.stderr)
