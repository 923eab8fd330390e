"""Build-time generators of the data kvcalc ships, kept apart from the modules that read it:

    python -m kvcalc.generators.cli_spec    # kvcalc/cli/cli_spec.json, from the typer app (after changing an option)
    python -m kvcalc.generators.indexes     # the indexes of the shipped YAML (after editing one)

Nothing at run time imports this package."""
