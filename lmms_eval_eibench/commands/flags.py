"""The judge flags `eibench score` and `eibench judge-check` share (`add_judge_arguments`) and the settings they
give (`judge_settings`). Choices and the protocols' help come from their registries (`judges.settings`,
`protocols`), so a new judge kind, prompt or protocol reaches the command line by itself."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lmms_eval_eibench.judges.protocols import PROTOCOLS, Protocol

if TYPE_CHECKING:  # the judges load on use
    from lmms_eval_eibench.judges import JudgeSettings

__all__ = ["add_judge_arguments", "judge_settings"]


def _protocol_help(protocol: Protocol) -> str:
    """`paper-gpt = openai gpt-3.5-turbo, prompt paper, temperature 0.1, --trust-judge-total`."""
    text = f"{protocol.name} = {protocol.kind} {protocol.model}, prompt {protocol.prompt}, " \
           f"temperature {protocol.temperature:g}"
    if protocol.top_p is not None:
        text += f", top_p {protocol.top_p:g}"
    return text + (", --trust-judge-total" if protocol.trust_judge_total else "")


def add_judge_arguments(parser: argparse.ArgumentParser) -> None:
    """The judge flags (`judge_settings` maps them onto JudgeSettings)."""
    from lmms_eval_eibench.judges.settings import (
        DEFAULT_PROMPTS,
        JUDGE_KINDS,
        JUDGE_PROMPTS,
    )

    parser.add_argument("--protocol", choices=tuple(PROTOCOLS),
                        help="the paper's judge in one word (default $EIBENCH_JUDGE_PROTOCOL): "
                             + "; ".join(_protocol_help(p) for p in PROTOCOLS.values())
                             + ". Explicit flags and variables still override")
    parser.add_argument("--judge", choices=JUDGE_KINDS,
                        help=f"judge kind (default $EIBENCH_JUDGE or {JUDGE_KINDS[0]})")
    parser.add_argument("--judge-model", metavar="MODEL", help="judge model (default $EIBENCH_JUDGE_MODEL)")
    parser.add_argument("--base-url", metavar="URL", help="OpenAI-compatible base URL (default $EIBENCH_JUDGE_BASE_URL)")
    parser.add_argument("--prompt", choices=JUDGE_PROMPTS,
                        help=f"judge prompt (default {DEFAULT_PROMPTS['openai']}; {DEFAULT_PROMPTS['hf']} for --judge hf)")
    parser.add_argument("--temperature", type=float, help="judge temperature (default 0; the paper used 0.1)")
    parser.add_argument("--concurrency", type=int, metavar="N", help="requests in flight (default 16)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="per-request timeout (default 60)")
    parser.add_argument("--cache-dir", metavar="DIR", help="verdict cache folder (default $EIBENCH_CACHE_DIR or user cache)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the verdict cache")
    parser.add_argument("--trust-judge-total", action="store_true",
                        help="recall = covered/total as the judge wrote it (the official script) instead of "
                             "covered / number of ground-truth triggers")


def judge_settings(args: argparse.Namespace) -> JudgeSettings:
    """The judge settings of the command line over the EIBENCH_JUDGE* environment (`args.no_progress`: the
    command's own --no-progress)."""
    from lmms_eval_eibench.judges import JudgeSettings

    return JudgeSettings.from_env(
        kind=args.judge,
        model=args.judge_model,
        base_url=args.base_url,
        prompt=args.prompt,
        temperature=args.temperature,
        concurrency=args.concurrency,
        timeout=args.timeout,
        cache_dir=args.cache_dir,
        cache=False if args.no_cache else None,
        trust_judge_total=True if args.trust_judge_total else None,
        progress=False if args.no_progress else None,
        protocol=getattr(args, "protocol", None),
    )
