"""The judge engine: cache lookups, bounded concurrency, retries with backoff, progress, order.

`JudgeEngine.judge_many(items)` returns one verdict per item, in order: verdicts read from cached replies
first (parsed now, with the current parser and scoring options), then the rest judged in batches with at most
`judge.concurrency` batches in flight. Each reply that held a verdict is cached as soon as it arrives.
Identical (answer, ground truth) pairs are judged once per call. With `offline=True` nothing is sent: an item
without a cached reply becomes a judge failure (`eibench score --from-cache`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any

from lmms_eval_eibench.judges.base import Judge, JudgeItem, Verdict
from lmms_eval_eibench.judges.cache import ReplyCache, reply_key
from lmms_eval_eibench.judges.identity import JudgeIdentity
from lmms_eval_eibench.scoring.verdict_parser import VerdictParseError

__all__ = ["JudgeEngine"]


class JudgeEngine:
    """A judge plus its cache: the object the rest of the package uses."""

    def __init__(self, judge: Judge, cache: ReplyCache | None = None, *, progress: bool = True,
                 offline: bool = False) -> None:
        self.judge = judge
        self.cache = cache
        self.progress = progress
        self.offline = offline
        self._preflight_lock = threading.Lock()
        self._preflight_done = False

    @property
    def metric_name(self) -> str:
        return self.judge.metric_name

    @property
    def identity(self) -> JudgeIdentity:
        """Every setting that decides the verdicts (cache key, provenance record, label)."""
        return self.judge.identity()

    def summary(self) -> dict[str, Any]:
        """The judge as `eibench score --json` writes it: `identity.summary()` and whether the verdict cache is
        used (never a key; never the cache's path, which names the user's home)."""
        return {**self.identity.summary(), "cache": self.cache is not None}

    def preflight(self) -> None:
        """Check once that the judge can work (raises `PreflightError` naming URL and model); nothing to check
        offline."""
        if self.offline:
            return
        with self._preflight_lock:
            if not self._preflight_done:
                self.judge.preflight()
                self._preflight_done = True

    def judge_many(self, items: Sequence[JudgeItem], *, progress: bool | None = None) -> list[Verdict]:
        """One verdict per item, in the order given."""
        items = list(items)
        if not items:
            return []
        identity = self.identity.reply_fields()
        keys = [reply_key(identity, item) for item in items]
        cached = self.cache.get_many(keys) if self.cache is not None else {}
        results: dict[str, Verdict] = {}
        todo: dict[str, JudgeItem] = {}
        for key, item in zip(keys, items):
            if key in results or key in todo:
                continue
            reply = cached.get(key)
            if reply is not None:
                try:
                    results[key] = replace(self.judge.read(item, reply.raw, reply.attempts), cached=True)
                    continue
                except VerdictParseError:
                    pass  # the current parser finds no verdict in this old reply: ask again
            todo[key] = item
        if todo and self.offline:
            for key, item in todo.items():
                results[key] = Verdict.failure(item, "no cached judge reply for this answer (scored from the cache only)",
                                               attempts=0)
        elif todo:
            self._run(todo, results, identity, progress=self.progress if progress is None else progress)
        return [results[key].with_id(item.id) for key, item in zip(keys, items)]

    def _run(self, todo: dict[str, JudgeItem], results: dict[str, Verdict], identity: dict[str, Any],
             *, progress: bool) -> None:
        from tqdm.auto import tqdm

        size = max(1, self.judge.batch_size)
        pending = list(todo.items())
        batches = [pending[i : i + size] for i in range(0, len(pending), size)]
        bar = tqdm(total=len(pending), desc=f"judging ({self.judge.kind})", unit="sample",
                   disable=not progress, leave=False)
        failed = 0

        def collect(batch: list[tuple[str, JudgeItem]], verdicts: list[Verdict]) -> None:
            nonlocal failed
            if len(verdicts) != len(batch):
                raise RuntimeError(f"{type(self.judge).__name__} returned {len(verdicts)} verdicts for {len(batch)} items")
            for (key, _), verdict in zip(batch, verdicts):
                results[key] = verdict
                failed += verdict.judge_failed
            if self.cache is not None:
                self.cache.put_many(((k, item, v.raw, v.attempts) for (k, item), v in zip(batch, verdicts)
                                     if not v.judge_failed), identity)
            bar.update(len(batch))
            if failed:
                bar.set_postfix(failed=failed)

        try:
            workers = max(1, min(self.judge.concurrency, len(batches)))
            if workers == 1:
                for batch in batches:
                    collect(batch, self.judge.judge_batch([item for _, item in batch]))
                return
            fatal: list[BaseException] = []

            def judge_batch(items: list[JudgeItem]) -> list[Verdict]:
                # A judge error that ends the run (key revoked, model gone) stops the queued batches before they
                # send anything: without this, every worker keeps sending until the main thread sees the error.
                if fatal:
                    raise fatal[0]
                try:
                    return self.judge.judge_batch(items)
                except Exception as exc:
                    fatal.append(exc)
                    raise

            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eibench-judge") as pool:
                futures: dict[Future, list[tuple[str, JudgeItem]]] = {
                    pool.submit(judge_batch, [item for _, item in batch]): batch for batch in batches
                }
                try:
                    while futures:
                        done, _ = wait(futures, return_when=FIRST_COMPLETED)
                        for future in done:
                            collect(futures.pop(future), future.result())
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
        finally:
            bar.close()

    def cached_count(self, items: Sequence[JudgeItem]) -> tuple[int, int]:
        """(distinct answers among ``items``, how many of them have a verdict saved in the cache)."""
        identity = self.identity.reply_fields()
        keys = list(dict.fromkeys(reply_key(identity, item) for item in items))
        cached = self.cache.get_many(keys) if self.cache is not None else {}
        return len(keys), len(set(cached) & set(keys))

    def close(self) -> None:
        self.judge.close()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> JudgeEngine:  # noqa: PYI034 - not meant to be subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
