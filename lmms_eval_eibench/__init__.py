"""EIBench (emotion interpretation) for lmms-eval: dataset, tasks, judges, recall metrics, reports, CFSA.

Importing this package is cheap on purpose: torch, transformers, datasets and lmms_eval are imported only
inside the functions that need them.
"""

__version__ = "0.2.0"

SUBSETS = ("basic", "complex")
BASIC_CATEGORIES = ("Happy", "Angry", "Sadness", "Excitement")
