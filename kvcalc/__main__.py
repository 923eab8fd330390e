"""python -m kvcalc"""

from .entry import main

main()
