"""``python -m statehub``: the command line."""

from statehub.cli import main

main(prog_name="statehub")
