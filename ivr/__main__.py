"""`python -m ivr` is the `helpline` command."""

from ivr.cli import main

main()
