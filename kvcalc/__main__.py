"""python -m kvcalc"""

from .cli.entry import main

main()
