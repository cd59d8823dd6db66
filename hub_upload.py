#!/usr/bin/env python
"""Build the EIBench Hugging Face dataset from the official annotation files and your own images.

    python hub_upload.py --eibench EIBench/ --image-root IMAGES/ [--output DIR] [--repo-id ORG/NAME --private]

Run with --help for every option. Without --eibench it builds the embedded sample (offline, images drawn by code).
"""

import sys

from lmms_eval_eibench.data.build import main

if __name__ == "__main__":
    sys.exit(main())
