"""python -m kvcalc"""

from .cli import main

main()
