"""The few errors kvcalc raises on purpose; the CLI prints each as one line on stderr."""


class KvcalcError(Exception):
    """Anything the user can fix: bad input, a bad config, an unwritable file."""


class ConfigError(KvcalcError):
    """A model config (YAML or config.json) that is missing, malformed or invalid."""


class InputError(KvcalcError):
    """A bad command-line value: a size, a dtype, a head count."""


class MeasureError(KvcalcError):
    """Measuring could not run (torch missing, no CUDA device, ...)."""


def one_line(text: str) -> str:
    """A message as one line: newlines and control characters written as Python escapes, so a
    file name cannot forge more `kvcalc: error:` lines or reach the terminal raw."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
