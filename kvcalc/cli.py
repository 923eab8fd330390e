"""The kvcalc command line: parse -> call the core -> render. No arithmetic here.

`kvcalc MODEL --seq N` is short for `kvcalc calc MODEL --seq N`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from . import __version__
from .errors import KvcalcError

DTYPE_HELP = "KV element type: auto (the model's own), fp32, fp16, bf16, fp8, fp8_e4m3, fp8_e5m2, int8, int4, nvfp4."
FORMAT_HELP = "Output format: table, json, csv, markdown or yaml."


class DefaultGroup(TyperGroup):
    """Runs `calc` when the first argument is not a command name."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["calc", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx, formatter) -> None:  # type: ignore[no-untyped-def]
        formatter.write_usage("kvcalc", "MODEL --seq N [OPTIONS]  |  kvcalc COMMAND [ARGS]...")


app = typer.Typer(
    cls=DefaultGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Exact KV-cache sizes of LLMs, as MHA, GQA and MQA. `kvcalc MODEL --seq N` is `kvcalc calc MODEL --seq N`.",
)

ModelArg = Annotated[str, typer.Argument(help="Model name, alias or Hugging Face id (see `kvcalc list`), or a .yaml / config.json path.", show_default=False)]
SeqOpt = Annotated[str, typer.Option("--seq", "-s", help="Tokens per sequence: 4096, 4k or 128k.", show_default=False)]
BatchOpt = Annotated[str, typer.Option("--batch", "-b", help="Sequences in the batch.")]
DtypeOpt = Annotated[str, typer.Option("--kv-dtype", help=DTYPE_HELP)]
UnitsOpt = Annotated[str, typer.Option("--units", help="Human units in tables: iec (GiB) or si (GB).")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to FILE (whole, or not at all) instead of stdout.")]
EngineOpt = Annotated[str, typer.Option("--engine", "-e", help="Runtime profile: exact (what the model needs), hf (transformers), vllm (paged blocks).")]
BlockOpt = Annotated[str, typer.Option("--block-size", help="Tokens per paged block (engine vllm).")]


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)] = False,
) -> None:
    if version:
        typer.echo(f"kvcalc {__version__}")
        raise typer.Exit()


@app.command("calc")
def calc(
    model: ModelArg,
    seq: SeqOpt,
    batch: BatchOpt = "1",
    kv_dtype: DtypeOpt = "auto",
    engine: EngineOpt = "exact",
    block_size: BlockOpt = "16",
    units: UnitsOpt = "iec",
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
    measure: Annotated[bool, typer.Option("--measure", help="Allocate the cache with PyTorch and compare (needs kvcalc[measure]).")] = False,
    device: Annotated[str, typer.Option("--device", help="Where --measure allocates: auto, cuda or cpu.")] = "auto",
) -> None:
    """KV-cache bytes of MODEL for --seq tokens, beside its MHA / GQA / MQA rebuilds."""
    from .registry import load_model
    from .report import FORMATS, UNITS, calc_report, check_choice, emit
    from .units import parse_size

    fmt, units = check_choice(fmt, FORMATS, "--format"), check_choice(units, UNITS, "--units")
    seq_len, batch_size = parse_size(seq, "--seq"), parse_size(batch, "--batch")
    blocks = parse_size(block_size, "--block-size")
    cfg = load_model(model)
    if measure:
        from .measure import measure_report

        report, ok = measure_report(cfg, seq_len, batch_size, kv_dtype, engine, blocks, device)
        emit(report, fmt, units, str(output) if output else None)
        if not ok:
            raise typer.Exit(1)
        return
    emit(calc_report(cfg, seq_len, batch_size, kv_dtype, engine, blocks), fmt, units, str(output) if output else None)


@app.command("list")
def list_models(
    kv_dtype: DtypeOpt = "auto",
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
) -> None:
    """Every shipped model: layers, heads, KV heads, head_dim, group size, bytes per token."""
    from .registry import load_all
    from .report import emit
    from .summary import models_report

    emit(models_report(load_all(), kv_dtype), fmt, "iec", str(output) if output else None)


@app.command("show")
def show(
    model: ModelArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="yaml (the config as a file of this schema) or json.")] = "yaml",
) -> None:
    """A model's config, its layer layout and the source of its numbers."""
    from .registry import load_model
    from .summary import show_text

    typer.echo(show_text(load_model(model), fmt), nl=False)


@app.command("import")
def import_config(
    config: Annotated[Path, typer.Argument(help="A Hugging Face config.json.", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the YAML here (e.g. configs/NAME.yaml).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="The model's name in kvcalc (default: from the file).")] = None,
) -> None:
    """Turn a config.json into a kvcalc YAML config."""
    from .summary import import_yaml

    text = import_yaml(config, name)
    if output:
        from .outfile import write_atomic

        write_atomic(output, text)
        typer.echo(f"wrote {output}", err=True)
    else:
        typer.echo(text, nl=False)


@app.command("measure")
def measure_all(
    all_models: Annotated[bool, typer.Option("--all", help="Every shipped model (required for now).")] = False,
    seq: Annotated[str, typer.Option("--seq", "-s", help="Tokens per sequence.")] = "128",
    batch: BatchOpt = "1",
    kv_dtype: DtypeOpt = "auto",
    engine: EngineOpt = "exact",
    block_size: BlockOpt = "16",
    device: Annotated[str, typer.Option("--device", help="auto, cuda or cpu.")] = "cpu",
    fmt: FormatOpt = "table",
    output: OutputOpt = None,
) -> None:
    """Allocate every shipped model's cache at a small size and compare with the formula."""
    from .errors import InputError
    from .measure import measure_all_report
    from .registry import load_all
    from .report import emit
    from .units import parse_size

    if not all_models:
        raise InputError("kvcalc measure needs --all (one model: kvcalc MODEL --seq N --measure)")
    report, ok = measure_all_report(list(load_all()), parse_size(seq, "--seq"), parse_size(batch, "--batch"), kv_dtype,
                                    engine, parse_size(block_size, "--block-size"), device)
    emit(report, fmt, "iec", str(output) if output else None)
    if not ok:
        raise typer.Exit(1)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: every KvcalcError or usage error is one line on stderr."""
    try:
        code = app(args=argv, prog_name="kvcalc", standalone_mode=False)
    except KvcalcError as err:
        print(f"kvcalc: error: {err}", file=sys.stderr)
        sys.exit(2)
    except typer.Abort:
        print("kvcalc: aborted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()  # a reader such as `head` went away: not an error
        sys.exit(0)
    except Exception as err:
        # click's usage errors (typer vendors click, so they are matched by shape, not class)
        if type(err).__name__ == "NoArgsIsHelpError" and getattr(err, "ctx", None) is not None:
            typer.echo(err.ctx.get_help())
            sys.exit(0)
        if hasattr(err, "format_message") and hasattr(err, "exit_code"):
            print(f"kvcalc: error: {err.format_message()}", file=sys.stderr)
            sys.exit(err.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)
