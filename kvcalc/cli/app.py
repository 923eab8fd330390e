"""The kvcalc command line: parse -> call the core -> render. No arithmetic here.

`kvcalc MODEL --seq N` is short for `kvcalc calc MODEL --seq N`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from .. import __version__
from . import commands
from ..call import Result
from ..engines import DEFAULT_BLOCK_SIZE
from ..errors import KvcalcError, one_line

DTYPE_HELP = "KV element type: auto (the engine's rule, said in the output), fp32, fp16, bf16, fp8, fp8_e4m3, fp8_e5m2, int8, int4, nvfp4."
FORMAT_HELP = "Output format: table, json, csv, markdown or yaml (default: from -o's extension, else table)."


class DefaultGroup(TyperGroup):
    """Runs `calc` when the first argument is not a command name."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["calc", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx, formatter) -> None:  # type: ignore[no-untyped-def]
        formatter.write_usage("kvcalc", "MODEL --seq TOKENS [OPTIONS]  |  kvcalc COMMAND [ARGS]...")

    def get_command(self, ctx, name):  # type: ignore[no-untyped-def]
        command = super().get_command(ctx, name)
        for param in getattr(command, "params", ()):
            meta = METAVARS.get((name, param.name)) or METAVARS.get(param.name)
            if meta and not getattr(param, "is_flag", False):
                param.metavar = meta
                if param.param_type_name == "argument":  # MODEL in usage, not {MODEL}; NAME|FILE, not <str>
                    param.make_metavar = lambda ctx=None, usage=False, m=meta, p=param: m if p.required or not usage else f"[{m}]"
                    if param.name in ARG_KINDS:
                        param.type = _Shown(ARG_KINDS[param.name])
        return command


class _Shown:
    """An argument's type as --help names it (the value stays a plain string)."""

    name = "text"

    def __init__(self, shown: str):
        self.shown = shown

    def get_metavar(self, param=None, ctx=None):  # type: ignore[no-untyped-def]
        return self.shown

    def __call__(self, value, param=None, ctx=None):  # type: ignore[no-untyped-def]
        return value

    def __getattr__(self, attr):  # type: ignore[no-untyped-def]
        from typer._click.types import STRING

        return getattr(STRING, attr)


ARG_KINDS = {"model": "NAME|FILE", "models": "NAME|FILE"}
# What each value is, in --help (typer would print <str> for all of them): by parameter name,
# or (command, name) where a command takes a list.
METAVARS = {
    "model": "MODEL", "models": "MODEL...", "config": "FILE", "seq": "TOKENS", "batch": "N", "kv_dtype": "DTYPE",
    "k_dtype": "TYPE", "v_dtype": "TYPE", "weights_dtype": "DTYPE", "engine": "ENGINE", "block_size": "TOKENS",
    "units": "iec|si", "fmt": "FORMAT", "output": "FILE", "device": "auto|cuda|cpu", "parallel": "N", "ubatch": "N",
    "flash_attn": "on|off|auto", "gpu": "GPU", "gpus": "N", "tp": "N", "pp": "N", "util": "FRACTION",
    "reserve": "BYTES", "weights_bytes": "BYTES", "catalog": "FILE", "kv_memory": "BYTES", "max_model_len": "TOKENS",
    "max_batched": "TOKENS", "kv_heads": "N,...|all", "n_heads": "N", "n_layers": "N", "head_dim": "N",
    "min_tps": "TOKENS/S", "max_rows": "N", "plot": "FILE.png", "name": "NAME", "revision": "REV", "ngl": "N|all",
    "n_cpu_moe": "N",
    ("table", "seq"): "LIST", ("table", "batch"): "LIST", ("table", "kv_dtype"): "DTYPES", ("table", "tp"): "LIST",
    ("table", "kv_heads"): "LIST|all", ("chart", "seq"): "LIST", ("compare", "kv_heads"): "N,...|all",
}


app = typer.Typer(
    cls=DefaultGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Exact KV-cache sizes of LLMs, as MHA, GQA and MQA. `kvcalc MODEL --seq N` is `kvcalc calc MODEL --seq N`.",
)

ModelArg = Annotated[str, typer.Argument(help="A shipped name or alias (see `kvcalc list`), a Hugging Face repo id ORG/NAME\\[@REV] (the local HF cache, else the Hub with kvcalc\\[hub]), or a .yaml / config.json / .gguf path.", show_default=False)]
KDtypeOpt = Annotated[str | None, typer.Option("--k-dtype", "-ctk", help="llama.cpp: K cache type (f16, q8_0, q4_0, ...; default --kv-dtype).", show_default=False)]
VDtypeOpt = Annotated[str | None, typer.Option("--v-dtype", "-ctv", help="llama.cpp: V cache type (default --kv-dtype).", show_default=False)]
FlashOpt = Annotated[str | None, typer.Option("--flash-attn", "-fa", help="llama.cpp: on, off or auto (default: the release's).", show_default=False)]
SeqOpt = Annotated[str, typer.Option("--seq", "-s", help="Tokens per sequence: 4096, 4k or 128k.", show_default=False)]
BatchOpt = Annotated[str, typer.Option("--batch", "-b", help="Sequences in the batch.")]
DtypeOpt = Annotated[str, typer.Option("--kv-dtype", help=DTYPE_HELP)]
UnitsOpt = Annotated[str, typer.Option("--units", help="Human units in tables: iec (GiB) or si (GB).")]
RevisionOpt = Annotated[str | None, typer.Option("--revision", help="Hugging Face revision (branch, tag or commit) of a repo id MODEL; also MODEL@REVISION.", show_default=False)]
AssumeOpt = Annotated[bool, typer.Option("--assume-standard-attention", help="Size a model kvcalc does not map (an unknown model_type, a key that changes the cache) as plain attention layers, said on every output; refused otherwise.")]
WideOpt = Annotated[bool, typer.Option("--wide", help="Every column, whatever the terminal's width (tables leave out optional columns to fit).")]
FormatOpt = Annotated[str | None, typer.Option("--format", "-f", help=FORMAT_HELP, show_default=False)]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE (whole, or not at all) instead of stdout.")]
EngineOpt = Annotated[str, typer.Option("--engine", "-e", help="Runtime and release, NAME[@VERSION]: exact (what the model needs), hf (transformers), vllm (paged blocks), llama.cpp (cells, ggml types; @BUILD such as b5331), llama-cpp-python (its vendored llama.cpp, the C API's defaults). No version: the newest checked; `kvcalc engines` lists them.")]
BlockOpt = Annotated[str | None, typer.Option("--block-size", "--page-size", help="Tokens per paged block (vllm: 16) or page (sglang's --page-size: 1); default: the engine's.")]


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)] = False,
) -> None:
    if version:
        typer.echo(f"kvcalc {__version__}")
        raise typer.Exit()


@app.command("calc", epilog="Examples:\n\nkvcalc llama2-70b --seq 4096\n\nkvcalc gemma-3-4b --seq 32k --engine llama.cpp -ctk q8_0 -ctv q8_0\n\nkvcalc deepseek-v3 --seq 16k --engine vllm@0.10.1.1 -f json")
def calc(
    model: ModelArg,
    seq: SeqOpt,
    batch: BatchOpt = "1",
    kv_dtype: DtypeOpt = "auto",
    engine: EngineOpt = "exact",
    block_size: BlockOpt = None,
    units: UnitsOpt = "iec",
    wide: WideOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    measure: Annotated[bool, typer.Option("--measure", help="Allocate the cache with PyTorch and compare (needs kvcalc\\[measure]).")] = False,
    device: Annotated[str, typer.Option("--device", help="Where --measure allocates: auto, cuda or cpu.")] = "auto",
    k_dtype: KDtypeOpt = None,
    v_dtype: VDtypeOpt = None,
    parallel: Annotated[str | None, typer.Option("--parallel", "-np", help="llama.cpp: sequence slots sharing --seq (-c); default the release's (llama-server's auto: 4 in a unified buffer; llama-cpp-python: 1).", show_default=False)] = None,
    kv_unified: Annotated[bool | None, typer.Option("--kv-unified/--no-kv-unified", help="llama.cpp: one KV buffer for all slots (default: on with auto -np, else off).", show_default=False)] = None,
    swa_full: Annotated[bool | None, typer.Option("--swa-full/--no-swa-full", help="llama.cpp: full-size cache for sliding-window layers (default: off in llama-server, on in llama-cpp-python).", show_default=False)] = None,
    ubatch: Annotated[str | None, typer.Option("--ubatch", "-ub", help="llama.cpp: physical batch size (n_ubatch; default 512).", show_default=False)] = None,
    flash_attn: FlashOpt = None,
    revision: RevisionOpt = None,
    assume: AssumeOpt = False,
) -> Result:
    """KV-cache bytes of MODEL for --seq tokens, beside its MHA / GQA / MQA rebuilds."""
    return commands.calc(**locals())


@app.command("list", epilog="Examples:\n\nkvcalc list\n\nkvcalc list --kv-dtype fp8 -f csv")
def list_models(
    kv_dtype: DtypeOpt = "auto",
    wide: WideOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> Result:
    """Every shipped model: layers, heads, KV heads, head_dim, group size, bytes per token."""
    return commands.list_models(**locals())


@app.command("show", epilog="Examples:\n\nkvcalc show llama3-8b\n\nkvcalc show ./config.json -f json")
def show(
    model: ModelArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="yaml (the config as a file of this schema), json, csv or markdown (a field a row).")] = "yaml",
    revision: RevisionOpt = None,
) -> Result:
    """A model's config, its layer layout and the source of its numbers."""
    return commands.show(**locals())


@app.command("import", epilog="Examples:\n\nkvcalc import ./config.json -o configs/my-model.yaml\n\nkvcalc import Qwen/Qwen3-8B")
def import_config(
    config: Annotated[Path, typer.Argument(help="A Hugging Face config.json, a .gguf file, or a Hugging Face repo id ORG/NAME\\[@REV].", show_default=False)],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the YAML here (e.g. configs/NAME.yaml).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="The model's name in kvcalc (default: from the file).")] = None,
) -> Result:
    """Turn a config.json or a GGUF's metadata into a kvcalc YAML config."""
    return commands.import_config(**locals())


@app.command("measure", epilog="Examples:\n\nkvcalc measure --all --seq 128 --device cpu")
def measure_all(
    all_models: Annotated[bool, typer.Option("--all", help="Every shipped model (required for now).")] = False,
    seq: Annotated[str, typer.Option("--seq", "-s", help="Tokens per sequence.")] = "128",
    batch: BatchOpt = "1",
    kv_dtype: DtypeOpt = "auto",
    engine: EngineOpt = "exact",
    block_size: BlockOpt = None,
    device: Annotated[str, typer.Option("--device", help="auto, cuda or cpu.")] = "cpu",
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> Result:
    """Allocate every shipped model's cache at a small size and compare with the formula."""
    return commands.measure_all(**locals())


# ----- capacity planning ------------------------------------------------------------------------

GpuOpt = Annotated[str, typer.Option("--gpu", "-g", help="GPU from the catalog (see `kvcalc gpus`), e.g. h100-80gb; auto: the local GPU (nvidia-smi).", show_default=False)]
GpusOpt = Annotated[str | None, typer.Option("--gpus", help="GPUs in all (default tp x pp; more makes data-parallel replicas).")]
TpOpt = Annotated[str | None, typer.Option("--tp", help="Tensor-parallel GPUs (default --gpus / --pp, else 1).")]
PpOpt = Annotated[str, typer.Option("--pp", help="Pipeline-parallel stages.")]
UtilOpt = Annotated[str, typer.Option("--gpu-memory-utilization", help="Share of each GPU's memory to use, as vLLM's flag.")]
ReserveOpt = Annotated[str, typer.Option("--reserve", help="Memory per GPU kept for activations, CUDA graphs and the CUDA context: 2GiB, 1.5GB, bytes.")]
WDtypeOpt = Annotated[str, typer.Option("--weights-dtype", help="Weights element type: auto (the checkpoint's own, quantization_config included), fp32, fp16, bf16, fp8, int8, int4, or mxfp4 / nvfp4 (weight matrices only, with their block scales).")]
WBytesOpt = Annotated[str | None, typer.Option("--weights-bytes", help="Weights in all (e.g. 140GB), instead of counting parameters.")]
CatalogOpt = Annotated[Path | None, typer.Option("--gpu-catalog", help="A YAML file of more GPUs (same shape as kvcalc/planning/gpus.yaml).")]


@app.command("compare", epilog="Examples:\n\nkvcalc compare llama2-70b --kv-heads all --seq 4k\n\nkvcalc compare llama3.1-8b mistral-7b-v0.3 qwen2.5-7b --seq 32k --gpu h100-80gb")
def compare(
    models: Annotated[list[str], typer.Argument(help="Models to put side by side (names, aliases or files).", show_default=False)],
    seq: SeqOpt,
    batch: BatchOpt = "1",
    kv_heads: Annotated[str | None, typer.Option("--kv-heads", help="Head configurations of each model: 64,32,8,1 or all (every divisor of n_heads).")] = None,
    kv_dtype: DtypeOpt = "auto",
    engine: EngineOpt = "exact",
    block_size: BlockOpt = None,
    gpu: Annotated[str | None, typer.Option("--gpu", "-g", help="Add the decode speed bound on this GPU.")] = None,
    tp: Annotated[str | None, typer.Option("--tp", help="Tensor-parallel GPUs for --gpu (default 1).")] = None,
    catalog: CatalogOpt = None,
    units: UnitsOpt = "iec",
    wide: WideOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    assume: AssumeOpt = False,
) -> Result:
    """Models, or the head configurations of one model (MHA to MQA), side by side."""
    return commands.compare(**locals())


@app.command("table", epilog="Examples:\n\nkvcalc table llama3.1-8b --seq 4k,32k --batch 1,8 -o grid.csv\n\nkvcalc table llama2-70b --seq 4k --kv-heads all --tp 1,2,4")
def table(
    models: Annotated[list[str], typer.Argument(help="Models (names, aliases or files).", show_default=False)],
    seq: Annotated[str, typer.Option("--seq", "-s", help="Tokens: a list and/or ranges, 1k,4k,32k or 1k:128k:1k.", show_default=False)],
    batch: Annotated[str, typer.Option("--batch", "-b", help="Sequences: a list and/or ranges, 1,8,64 or 1:256.")] = "1",
    kv_dtype: Annotated[str, typer.Option("--kv-dtype", help="KV element types, comma-separated (auto, fp16, bf16, fp8, int8, int4, ...).")] = "auto",
    kv_heads: Annotated[str | None, typer.Option("--kv-heads", help="Rebuild each model with these KV-head counts, or all (every divisor of n_heads; default: as published).")] = None,
    tp: Annotated[str, typer.Option("--tp", help="Tensor-parallel sizes, comma-separated.")] = "1",
    engine: EngineOpt = "exact",
    block_size: BlockOpt = None,
    units: UnitsOpt = "iec",
    wide: WideOpt = False,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="table (terminal, up to 10,000 rows), csv, json, markdown or yaml; default: from -o's extension, else table.", show_default=False)] = None,
    output: OutputOpt = None,
    max_rows: Annotated[str, typer.Option("--max-rows", help="Refuse grids of more rows (ranges stream, so only time and disk are at stake).")] = "10000000",
    assume: AssumeOpt = False,
) -> Result:
    """The grid models x dtypes x KV heads x tp x seq x batch, one row each (columns: docs/capacity.md, "table: the grid a planning spreadsheet needs")."""
    return commands.table(**locals())


@app.command("fit", epilog="Examples:\n\nkvcalc fit llama3.1-8b --gpu h100-80gb --seq 16k --batch 32\n\nkvcalc fit llama2-70b --kv-memory 4GiB --max-model-len 4k\n\nkvcalc fit qwen3-32b --gpu h100-80gb --seq 8k --batch 8 --fail-if-not-fit")
def fit(
    model: ModelArg,
    gpu: Annotated[str | None, typer.Option("--gpu", "-g", help="GPU from the catalog (see `kvcalc gpus`), e.g. h100-80gb; auto: the local GPU (nvidia-smi); not needed with --kv-memory.", show_default=False)] = None,
    seq: Annotated[str | None, typer.Option("--seq", "-s", "-c", help="Tokens per sequence: how many such sequences fit (llama.cpp: -c, n_ctx).")] = None,
    batch: Annotated[str | None, typer.Option("--batch", "-b", help="Sequences at once: how long a context fits.")] = None,
    gpus: GpusOpt = None,
    tp: TpOpt = None,
    pp: PpOpt = "1",
    kv_dtype: DtypeOpt = "auto",
    weights_dtype: WDtypeOpt = "auto",
    weights_bytes: WBytesOpt = None,
    util: Annotated[str | None, typer.Option("--gpu-memory-utilization", metavar="FRACTION", help="Share of each GPU's memory to use, as vLLM's flag (default: the release's, 0.9 or 0.92 from vLLM 0.20).", show_default=False)] = None,
    reserve: Annotated[str | None, typer.Option("--reserve", metavar="BYTES", help="Memory per GPU kept back for activations and CUDA graphs, instead of vLLM's predicted budget (0 with sglang, whose --mem-fraction-static leaves it out; 2GiB under hf and exact).")] = None,
    block_size: BlockOpt = None,
    catalog: CatalogOpt = None,
    engine: Annotated[str, typer.Option("--engine", "-e", help="Runtime whose rules size the cache, NAME[@VERSION]: vllm (paged blocks), sglang (token pool), hf or exact; several, comma-separated (vllm,sglang), side by side; --kv-memory is vllm's and sglang's (e.g. vllm@0.10.1.1).")] = "vllm",
    mem_fraction: Annotated[str | None, typer.Option("--mem-fraction-static", metavar="FRACTION", help="SGLang's share of each GPU for weights and KV pool (default: the release's own rule for the GPU).")] = None,
    kv_memory: Annotated[str | None, typer.Option("--kv-memory", "--kv-cache-memory", help="vLLM's 'Available KV cache memory' per GPU (e.g. 4GiB), or the bytes SGLang gives its pool: size the pool exactly, no --gpu needed.")] = None,
    max_model_len: Annotated[str | None, typer.Option("--max-model-len", help="vLLM's max_model_len (default --seq with --kv-memory, else the model's context).")] = None,
    max_batched: Annotated[str | None, typer.Option("--max-num-batched-tokens", metavar="TOKENS", help="vLLM's max_num_batched_tokens (default: the release's for the GPU and entry point; 8192 with --kv-memory).", show_default=False)] = None,
    max_num_seqs: Annotated[str | None, typer.Option("--max-num-seqs", metavar="N", help="vLLM's max_num_seqs: the sampler's rows in its profile run (default: the release's for the GPU and entry point).", show_default=False)] = None,
    enforce_eager: Annotated[bool, typer.Option("--enforce-eager", help="vLLM's --enforce-eager: no CUDA graphs, none taken from the budget.")] = False,
    entrypoint: Annotated[str, typer.Option("--entrypoint", metavar="serve|llm", help="How vLLM is started, for its defaults: serve (vllm serve) or llm (the LLM class).")] = "serve",
    wide: WideOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    revision: RevisionOpt = None,
    fail_if_not_fit: Annotated[bool, typer.Option("--fail-if-not-fit", help="Exit 1 when the answer is that it does not fit (the verdict, or vLLM refusing to start), for scripts.")] = False,
    assume: AssumeOpt = False,
    k_dtype: KDtypeOpt = None,
    v_dtype: VDtypeOpt = None,
    parallel: Annotated[str | None, typer.Option("--parallel", "-np", help="llama.cpp: sequence slots sharing -c (default --batch, else the release's).", show_default=False)] = None,
    kv_unified: Annotated[bool | None, typer.Option("--kv-unified/--no-kv-unified", help="llama.cpp: one KV buffer for all slots.", show_default=False)] = None,
    swa_full: Annotated[bool | None, typer.Option("--swa-full/--no-swa-full", help="llama.cpp: full-size cache for sliding-window layers.", show_default=False)] = None,
    ubatch: Annotated[str | None, typer.Option("--ubatch", "-ub", help="llama.cpp: physical batch size (n_ubatch; default 512): sizes the compute buffers.", show_default=False)] = None,
    flash_attn: FlashOpt = None,
    ngl: Annotated[str | None, typer.Option("--n-gpu-layers", "--ngl", "-ngl", help="llama.cpp: layers on the GPU (all = every block and the output layer); default: the most that fit, all when no -c is given.", show_default=False)] = None,
    n_cpu_moe: Annotated[str | None, typer.Option("--n-cpu-moe", "-ncmoe", help="llama.cpp: keep the MoE experts of the first N layers in host memory.", show_default=False)] = None,
    wired_limit: Annotated[str | None, typer.Option("--wired-limit", metavar="BYTES", help="Apple GPUs: what `sysctl iogpu.wired_limit_mb` lets the GPU use (e.g. 56GiB), instead of macOS's default working set.", show_default=False)] = None,
) -> Result:
    """What fits on GPUs: max sequences at --seq, max context at --batch, decode bound; MHA / MQA beside.
    With --kv-memory: vLLM's own num_blocks, KV cache tokens and maximum concurrency.
    With --engine llama.cpp or ollama: weights, KV cache, compute and output buffers on the GPU or Mac
    and in host memory; the largest -c, or the most layers (-ngl) that fit."""
    return commands.fit(**locals())


@app.command("plan", epilog="Examples:\n\nkvcalc plan llama3.1-70b --gpu h100-80gb --tp 4 --seq 32k --batch 16")
def plan(
    gpu: GpuOpt,
    seq: SeqOpt,
    model: Annotated[str | None, typer.Argument(help="Model (or give --n-heads, --n-layers, --head-dim).", show_default=False)] = None,
    batch: BatchOpt = "1",
    n_heads: Annotated[str | None, typer.Option("--n-heads", help="Query heads (without MODEL).")] = None,
    n_layers: Annotated[str | None, typer.Option("--n-layers", help="Layers (without MODEL).")] = None,
    head_dim: Annotated[str | None, typer.Option("--head-dim", help="Head dimension (without MODEL).")] = None,
    min_tps: Annotated[float | None, typer.Option("--min-tokens-per-s", help="Decode speed target (bound) to meet.")] = None,
    gpus: GpusOpt = None,
    tp: TpOpt = None,
    pp: PpOpt = "1",
    kv_dtype: DtypeOpt = "auto",
    weights_dtype: WDtypeOpt = "auto",
    weights_bytes: WBytesOpt = None,
    util: UtilOpt = "0.9",
    reserve: ReserveOpt = "2GiB",
    block_size: BlockOpt = None,
    catalog: CatalogOpt = None,
    engine: Annotated[str, typer.Option("--engine", "-e", help="Runtime whose rules size the cache, NAME[@VERSION]: vllm (paged blocks), hf or exact.")] = "vllm",
    wide: WideOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    fail_if_not_fit: Annotated[bool, typer.Option("--fail-if-not-fit", help="Exit 1 when the answer is that it does not fit (the verdict, or vLLM refusing to start), for scripts.")] = False,
    assume: AssumeOpt = False,
) -> Result:
    """Every group count (divisor of n_heads) against a context and batch target; recommends one."""
    return commands.plan(**locals())


@app.command("gpus", epilog="Examples:\n\nkvcalc gpus\n\nkvcalc gpus --wide -f json")
def gpus_list(
    catalog: CatalogOpt = None,
    wide: WideOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> Result:
    """The GPU catalog: memory as the driver reports it, HBM bandwidth, and sources."""
    return commands.gpus_list(**locals())


@app.command("engines", epilog="Examples:\n\nkvcalc engines\n\nkvcalc engines -f json")
def engines_list(
    wide: WideOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> Result:
    """Every runtime engine: the releases covered, each era of rules and what changed, with sources."""
    return commands.engines_list(**locals())


@app.command("check-log", epilog="Examples:\n\nkvcalc check-log vllm-startup.log\n\nkvcalc check-log server.log.gz --model llama3.1-8b -f json\n\ndocker logs my-vllm 2>&1 | kvcalc check-log -")
def check_log(
    log: Annotated[str, typer.Argument(metavar="FILE|-", help="A startup log of vLLM, SGLang, llama.cpp or ik_llama.cpp (gzip too); - reads stdin.")],
    model: Annotated[str | None, typer.Option("--model", "-m", metavar="NAME|FILE", help="The model that ran (default: the one the log names, or its printed metadata).")] = None,
    tp: Annotated[str | None, typer.Option("--tp", metavar="N", help="Tensor parallelism, for a log that does not print it.")] = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> Result:
    """Recompute every memory line a runtime printed at startup, with the rules of its release.
    Exit 0: every recomputed line agrees; 1: one does not; 2: no line recognised."""
    return commands.check_log(**locals())


@app.command("chart", epilog="Examples:\n\nkvcalc chart llama3-8b\n\nkvcalc chart llama3-8b --plot kv.png")
def chart(
    model: ModelArg,
    seq: Annotated[str | None, typer.Option("--seq", "-s", help="Contexts: 1k,4k,32k or 1k:64k:8k (default: powers of two to the model's max).")] = None,
    batch: BatchOpt = "1",
    kv_dtype: DtypeOpt = "auto",
    engine: EngineOpt = "exact",
    plot: Annotated[Path | None, typer.Option("--plot", help="Also write a line chart to FILE.png (needs kvcalc\\[plot]).")] = None,
    units: UnitsOpt = "iec",
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    assume: AssumeOpt = False,
) -> Result:
    """KV bytes against context length: the model and its MHA / GQA / MQA rebuilds, as bars."""
    return commands.chart(**locals())


_ALL_COMMANDS = list(app.registered_commands)


def run_typer(args: list[str]) -> Result:
    """The whole typer app: --help, usage errors, and whatever kvcalc.cli.fastpath declined. A
    KvcalcError goes up to kvcalc.cli.entry, which prints it."""
    _keep_only_invoked(args)
    try:
        code = app(args=args, prog_name="kvcalc", standalone_mode=False)
    except KvcalcError:
        raise
    except typer.Abort:
        raise KeyboardInterrupt from None
    except Exception as err:  # noqa: BLE001 - click's usage errors, matched by shape
        _usage_error(err)
    return code if isinstance(code, Result) else Result(code if isinstance(code, int) else None)


def _keep_only_invoked(args: list[str]) -> None:
    """Build only the command this call runs: typer inspects every registered function's
    parameters when it builds the group, a third of the start-up for one command. `kvcalc --help`
    (and anything that is not a command's own call) keeps them all."""
    first = args[0] if args else ""
    names = {info.name for info in _ALL_COMMANDS}
    target = None if first.startswith("-") or not first else first if first in names else "calc"
    app.registered_commands = [info for info in _ALL_COMMANDS if target in (None, info.name)]


def _usage_error(err: Exception) -> None:
    """click's usage errors, as one line (typer vendors click: matched by shape, not class)."""
    if type(err).__name__ == "NoArgsIsHelpError" and getattr(err, "ctx", None) is not None:
        typer.echo(err.ctx.get_help())
        sys.exit(0)
    if type(err).__name__ == "NoSuchOption" and getattr(err, "option_name", None):
        import difflib

        close = difflib.get_close_matches(err.option_name, list(getattr(err, "possibilities", None) or []), n=3, cutoff=0.75)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        print(f"kvcalc: error: no such option: {one_line(err.option_name)}{hint}", file=sys.stderr)
        sys.exit(err.exit_code)
    if hasattr(err, "format_message") and hasattr(err, "exit_code"):
        print(f"kvcalc: error: {one_line(err.format_message())}", file=sys.stderr)
        sys.exit(err.exit_code)
    raise err
