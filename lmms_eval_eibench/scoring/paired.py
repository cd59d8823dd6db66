"""Paired comparison of two runs on the same samples: mean difference, 95% confidence interval, two-sided p-value.

The same test lmms-eval's ``--baseline`` runs (a paired t-test on per-sample scores), plus the cluster-robust
version EIBench complex needs: its questions come up to four per image, so the differences of one image are not
independent and the naive interval is too narrow. Clustered: the standard error of the mean difference is the
sandwich (CR1) estimate over image clusters, with G - 1 degrees of freedom for G clusters.

Pure Python (the Student t distribution through the regularized incomplete beta function), no scipy: the core
stays testable in milliseconds and importable without heavy packages.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

__all__ = ["PairedDifference", "paired_difference", "student_t_sf", "student_t_quantile"]


@dataclass(frozen=True)
class PairedDifference:
    """B minus A on ``n`` paired samples (scores in the callers' unit); ``clusters`` is None for the plain test."""

    n: int
    mean_a: float
    mean_b: float
    diff: float
    stderr: float
    ci_low: float
    ci_high: float
    p_value: float
    df: int
    clusters: int | None = None


def _betacf(a: float, b: float, x: float) -> float:
    # Lentz's continued fraction for the incomplete beta function (converges fast for x < (a + 1) / (a + b + 2))
    tiny, eps = 1e-300, 3e-16
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def student_t_sf(t: float, df: int) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


def student_t_quantile(p: float, df: int) -> float:
    """The t with P(T <= t) = p (bisection on ``student_t_sf``; 1e-12 is far below any reported digit)."""
    low, high = -1e3, 1e3
    for _ in range(200):
        mid = (low + high) / 2.0
        if 1.0 - student_t_sf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12:
            break
    return (low + high) / 2.0


def paired_difference(a: Sequence[float], b: Sequence[float], clusters: Sequence[Hashable] | None = None,
                      confidence: float = 0.95) -> PairedDifference:
    """B - A over paired samples (``a[i]`` and ``b[i]`` are the same sample); ``clusters[i]`` (e.g. the image) makes
    the standard error cluster-robust. Fewer than 2 samples (or clusters) give NaN for the interval and p-value."""
    if len(a) != len(b) or (clusters is not None and len(clusters) != len(a)):
        raise ValueError(f"paired scores must have the same length: {len(a)}, {len(b)}"
                         + (f", clusters {len(clusters)}" if clusters is not None else ""))
    n = len(a)
    nan = float("nan")
    if n == 0:
        return PairedDifference(0, nan, nan, nan, nan, nan, nan, nan, 0, None if clusters is None else 0)
    diffs = [y - x for x, y in zip(a, b)]
    mean_a, mean_b, diff = sum(a) / n, sum(b) / n, sum(diffs) / n
    if clusters is None:
        df, groups = n - 1, None
        variance = sum((d - diff) ** 2 for d in diffs) / (n - 1) / n if n > 1 else nan
    else:
        sums: dict[Hashable, float] = {}
        for key, d in zip(clusters, diffs):
            sums[key] = sums.get(key, 0.0) + (d - diff)
        groups = len(sums)
        df = groups - 1
        variance = groups / (groups - 1) * sum(s * s for s in sums.values()) / (n * n) if groups > 1 else nan
    if df < 1 or math.isnan(variance):
        return PairedDifference(n, mean_a, mean_b, diff, nan, nan, nan, nan, max(df, 0), groups)
    stderr = math.sqrt(variance)
    if stderr == 0.0:  # every pair differs by the same amount: no doubt about the sign, none about the size
        p_value = 1.0 if diff == 0 else 0.0
        return PairedDifference(n, mean_a, mean_b, diff, 0.0, diff, diff, p_value, df, groups)
    t = diff / stderr
    p_value = min(1.0, 2.0 * student_t_sf(abs(t), df))
    half = student_t_quantile(0.5 + confidence / 2.0, df) * stderr
    return PairedDifference(n, mean_a, mean_b, diff, stderr, diff - half, diff + half, p_value, df, groups)
