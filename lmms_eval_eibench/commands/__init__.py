"""Subcommands of the ``eibench`` console script, one module each (``add_parser`` + ``run``)."""
