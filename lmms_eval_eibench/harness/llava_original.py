"""lmms-eval's `llava` model (checkpoints in the original LLaVA layout): what it needs, and why it stops when it does.

lmms-eval's `--model llava` runs checkpoints in LLaVA's own layout (`liuhaotian/llava-v1.5-7b`,
`lmms-lab/llava-onevision-*`) through the `llava` package of GitHub LLaVA-VL/LLaVA-NeXT, the one lmms-eval's own
docs install. That code lags transformers: it runs with transformers 4.39.2 (lmms-eval 0.7.3's floor) up to 4.55;
4.56 removed a name it imports. So it lives in a second environment (README, "`--model llava`"), while `llava_hf`
stays the way to run LLaVA models on current transformers. What goes wrong, and what lmms-eval says about it:

1. No `llava` package: lmms-eval swallows the import error (DEBUG level) and later stops with
   `NameError: name 'get_model_name_from_path' is not defined`.
2. LLaVA-NeXT with transformers >= 4.56: its imports fail (`apply_chunking_to_forward`), same NameError.
3. haotian-liu/LLaVA's package (PyPI `llava-torch`, or its GitHub main): it imports, but its
   `LlavaLlamaForCausalLM.forward` lacks `cache_position`, which transformers passes while generating since 4.38,
   so every generation (every EIBench task) stops with a `TypeError`. No transformers lmms-eval 0.7.3 accepts
   works with it.

`problem()` reads the installed pair (does `llava` import, what `forward` takes, the versions) and `diagnose()`
names the cause; nothing is said when the pair works. The discovery hook prints it when lmms-eval builds a task
index for `--model llava`, i.e. before the model loads. Importing this module is cheap; `problem()` imports torch.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass

__all__ = ["INSTALL", "LLAVA_NEXT", "LLAVA_NEXT_REPO", "MODEL", "TRANSFORMERS", "Installed", "diagnose", "installed",
           "problem", "report"]

MODEL = "llava"  # lmms-eval's model name for the original layout
LLAVA_NEXT_REPO = "LLaVA-VL/LLaVA-NeXT"
LLAVA_NEXT_COMMIT = "df179663ae8b83207df100a1f7af24caec633ff9"  # checked here (README); the Makefile uses its archive
LLAVA_NEXT = f"llava @ git+https://github.com/{LLAVA_NEXT_REPO}@{LLAVA_NEXT_COMMIT}"
TRANSFORMERS = ">=4.39.2,<4.56"  # lmms-eval 0.7.3's floor; 4.56 removed a name LLaVA-NeXT imports
_FIRST_BREAKING = (4, 56)
# the two commands of the README's `--model llava` section (a second environment)
INSTALL = (f'pip install lmms-eval-eibench "transformers{TRANSFORMERS}" && '
           f'pip install --no-deps "{LLAVA_NEXT}"')
USE_INSTEAD = "--model llava_hf with the llava-hf conversions (e.g. pretrained=llava-hf/llava-1.5-7b-hf)"
WHERE = 'README, "`--model llava`"'
# The modules lmms_eval/models/simple/llava.py imports (inside a try that hides the error).
_LMMS_EVAL_IMPORTS = ("llava.constants", "llava.conversation", "llava.mm_utils", "llava.model.builder")
_MODEL_MODULE = "llava.model.language_model.llava_llama"  # LlavaLlamaForCausalLM, in haotian's LLaVA and LLaVA-NeXT
_SYMPTOM = "NameError: name 'get_model_name_from_path' is not defined"
# What transformers' generation loop passes to a model's forward (when Llama's forward takes it) that LLaVA code
# may not take: `cache_position` in 4.38 to 4.x (so in every 4.x lmms-eval 0.7.3 accepts), `cache` in 5.x.
_GENERATION_KEYWORDS = ("cache_position", "cache")


@dataclass(frozen=True)
class Installed:
    """What is installed, as `problem()` reads it: the facts `diagnose()` decides on."""

    transformers: str  # its version
    llava: tuple[str, ...] = ()  # "name version" of each distribution providing the `llava` package; () = none
    import_error: str | None = None  # what lmms-eval's imports of `llava` raise, if anything
    forward_lacks: tuple[str, ...] = ()  # of `_GENERATION_KEYWORDS`, those LlavaLlamaForCausalLM.forward cannot take
    generation_passes: tuple[str, ...] = ()  # of `_GENERATION_KEYWORDS`, those this transformers passes to forward


def _release(version: str) -> tuple[int, int]:
    from packaging.version import Version

    release = Version(version).release
    return (release + (0, 0))[:2]  # type: ignore[return-value]


def diagnose(found: Installed) -> str | None:
    """Why lmms-eval's `llava` model cannot run EIBench with `found` (the cause, then the fix), or None."""
    head = f"lmms-eval's `{MODEL}` model"
    here = f"transformers {found.transformers}"
    newer = _release(found.transformers) >= _FIRST_BREAKING
    fix = (f"It runs with LLaVA-NeXT's `llava` (GitHub {LLAVA_NEXT_REPO}) and transformers{TRANSFORMERS}, in an "
           f"environment of its own: `{INSTALL}` ({WHERE}); or use {USE_INSTEAD}.")
    if not found.llava:
        if not newer:  # this environment can take it as it is
            fix = f'Install it here: `pip install --no-deps "{LLAVA_NEXT}"` ({WHERE}); or use {USE_INSTEAD}.'
        return (f"{head} needs the `llava` package of GitHub {LLAVA_NEXT_REPO}, which is not installed ({here}); "
                f"lmms-eval hides this and stops with `{_SYMPTOM}`. {fix}")
    package = " and ".join(found.llava)
    if found.import_error is not None:
        cause = (f"LLaVA-NeXT's code works with transformers{TRANSFORMERS} only. " if newer else "")
        return (f"{head} cannot import `llava` ({package}) with {here}: {found.import_error}; lmms-eval hides this "
                f"and stops with `{_SYMPTOM}`. {cause}{fix}")
    blocked = [k for k in found.generation_passes if k in found.forward_lacks]
    if blocked:
        keywords = " and ".join(f"`{k}=`" for k in blocked)
        # LLaVA-NeXT's forward takes cache_position; haotian-liu/LLaVA's does not
        whose = ("This is haotian-liu/LLaVA's code (PyPI llava-torch), whose forward lacks `cache_position`, which "
                 "transformers 4.38 to 4.x pass, and `cache`: no version lmms-eval 0.7.3 accepts runs it; "
                 "uninstall it. "
                 if "cache_position" in found.forward_lacks else
                 f"LLaVA-NeXT's code works with transformers{TRANSFORMERS} only. ")
        return (f"{head} loads checkpoints with `llava` ({package}) but cannot generate with {here}: transformers "
                f"passes {keywords} to the model's forward while generating, which its "
                f"LlavaLlamaForCausalLM.forward does not take, so every EIBench task stops with `TypeError: ... "
                f"got an unexpected keyword argument`. {whose}{fix}")
    return None


def _import_error() -> str | None:
    """The error lmms-eval's `llava` model swallows when it imports the `llava` package (its root cause), or None."""
    try:
        for module in _LMMS_EVAL_IMPORTS:
            importlib.import_module(module)
    except Exception as err:  # lmms-eval catches every exception here too
        surfaced: Exception = err
    else:
        return None
    # LLaVA-NeXT's `llava.model` swallows its model modules' errors too (it prints them), so what surfaces is a
    # missing name; importing the Llama model's module itself gives the cause.
    try:
        importlib.import_module(_MODEL_MODULE)
    except Exception as cause:
        surfaced = cause
    return f"{type(surfaced).__name__}: {surfaced}"


def _generation_keywords() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the generation keywords LLaVA's `forward` cannot take, those transformers' Llama `forward` takes)."""
    from transformers import LlamaForCausalLM

    LlavaLlamaForCausalLM = importlib.import_module(_MODEL_MODULE).LlavaLlamaForCausalLM

    llama = inspect.signature(LlamaForCausalLM.forward).parameters  # follows transformers' deprecation wrappers
    llava = inspect.signature(LlavaLlamaForCausalLM.forward).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in llava.values())
    lacks = () if takes_any else tuple(k for k in _GENERATION_KEYWORDS if k not in llava)
    return lacks, tuple(k for k in _GENERATION_KEYWORDS if k in llama)


def _distributions(package: str) -> tuple[str, ...]:
    """ "name version" of each installed distribution providing the import package `package`."""
    from importlib.metadata import packages_distributions, version

    return tuple(f"{name} {version(name)}" for name in sorted(set(packages_distributions().get(package, []))))


def installed() -> Installed:
    """Read the installed pair (imports `llava` and transformers when `llava` is there)."""
    from importlib.metadata import version

    try:
        present = importlib.util.find_spec("llava") is not None
    except (ImportError, ValueError):  # a `None` in sys.modules, or a broken parent
        present = False
    found = Installed(transformers=version("transformers"))
    if not present:
        return found
    llava = _distributions("llava") or ("llava (no package metadata)",)
    error = _import_error()
    lacks, passes = ((), ()) if error is not None else _generation_keywords()
    return Installed(found.transformers, llava, error, lacks, passes)


@functools.lru_cache(maxsize=1)
def problem() -> str | None:
    """Why lmms-eval's `llava` model cannot run EIBench in this environment, or None when the pair works."""
    return diagnose(installed())


_reported = False


def report(model_name: str | None) -> None:
    """Print `problem()` on stderr once per process when `model_name` is lmms-eval's `llava` model. Never raises:
    it runs inside lmms-eval's task indexing, which must go on for other tasks."""
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
