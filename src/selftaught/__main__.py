"""`python -m selftaught` is the same as the `selftaught` command."""

from selftaught.cli import main

main()
