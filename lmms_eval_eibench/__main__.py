"""``python -m lmms_eval_eibench COMMAND ...``: the ``eibench`` console script without the script."""

import sys

from lmms_eval_eibench.cli import main

sys.exit(main())
