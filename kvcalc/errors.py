"""The few errors kvcalc raises on purpose; the CLI prints each as one line on stderr."""


class KvcalcError(Exception):
    """Anything the user can fix: bad input, a bad config, an unwritable file."""


class ConfigError(KvcalcError):
    """A model config (YAML or config.json) that is missing, malformed or invalid."""


class InputError(KvcalcError):
    """A bad command-line value: a size, a dtype, a head count."""


class MeasureError(KvcalcError):
    """Measuring could not run (torch missing, no CUDA device, ...)."""
