"""The ``eibench`` console script: ``build``, ``score``, ``report``, ``judge-check``, ``captions``, ``coherence``,
``view`` (one module per command).

Each command module has ``add_parser(subparsers)`` and ``run(args) -> int``. Only the chosen command's module is
imported, so ``eibench build`` never pays for the judges' imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "build": ("data.build", "build the EIBench dataset (same as hub_upload.py)"),
    "score": ("commands.score", "judge saved answers and print recall"),
    "report": ("commands.report", "tables, chart and summary from results files"),
    "judge-check": ("commands.judge_check", "check a judge against answers of known coverage before a paid run"),
    "captions": ("commands.captions", "turn the eibench_captions task's samples into a --captions file"),
    "coherence": ("commands.coherence", "the paper's long-term coherence of saved answers (no judge)"),
    "view": ("commands.view", "one offline HTML page of a run's samples, or of two runs paired"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from lmms_eval_eibench import __version__

    parser = argparse.ArgumentParser(prog="eibench", description="EIBench for lmms-eval.")
    parser.add_argument("--version", action="version", version=f"lmms-eval-eibench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    module = None
    for name, (module_name, help_text) in COMMANDS.items():
        if name == chosen:
            module = importlib.import_module(f"lmms_eval_eibench.{module_name}")
            module.add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=help_text)
    args = parser.parse_args(argv)
    try:
        return module.run(args)
    except KeyboardInterrupt:  # every command: a message, no traceback, the shell's status for Ctrl-C
        print(f"eibench {args.command}: interrupted; outputs are written only when complete, so nothing half "
              "written is left: run the same command again", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
