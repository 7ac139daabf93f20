"""`python -m qcp` runs the command line."""

from qcp.cli import main

main()
