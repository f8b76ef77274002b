"""`convplan solve SPEC`: valid input sizes, budgets, and a target receptive field."""

from __future__ import annotations

import click

from convplan.cli.common import (
    dtype_option,
    input_size_option,
    optimizer_option,
    parse_input_size,
    resolve_dtype,
)
from convplan.options import SOLVE_FORMATS


def _budget(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    from convplan.errors import UsageError
    from convplan.options import parse_quantity

    number = parse_quantity(value)
    if number is None or number <= 0:
        raise UsageError(f"{option} must be a positive number such as 1e9, 500M or 8GiB, "
                         f"received {value!r}")
    return int(number)


@click.command("solve")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--max-macs", default=None, metavar="N",
              help="MACs budget (1e9, 500M): the largest input size (or batch) within it.")
@click.option("--max-memory", default=None, metavar="BYTES",
              help="Training-memory budget (8GiB, 2e9): the largest input size (or batch).")
@click.option("--batch", type=click.IntRange(min=1), default=None,
              help="Batch for the budgets when solving for the input size (default 1).")
@input_size_option
@dtype_option
@optimizer_option
@click.option("--target-rf", type=click.IntRange(min=1), default=None, metavar="PIXELS",
              help="Find the --vary settings that reach this receptive field with the fewest "
                   "MACs.")
@click.option("--vary", "varies", multiple=True, metavar="LAYER.ATTR=VALUES",
              help="Choices for --target-rf, as in convplan sweep: 'conv*.strides=1,2'.")
@click.option("--aspect", default=None, metavar="HxW",
              help="Aspect ratio of the input the budgets solve for (3x5, or 384x640: the "
                   "same); default the input's declared ratio, square where it has none.")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many settings --target-rf lists.")
@click.option("--format", "fmt", type=click.Choice(SOLVE_FORMATS), default="table",
              show_default=True, help="Output format.")
@click.option("--device", default=None, metavar="NAME",
              help="An accelerator whose memory is the budget for --max-batch / --max-size "
                   "(h100, a100-80gb, t4, tpu-v4, ...; convplan/devices.py).")
@click.option("--max-batch", is_flag=True,
              help="The largest batch whose training peak fits --device at the input size.")
@click.option("--max-size", is_flag=True,
              help="The largest square input whose training peak fits --device at --batch.")
@click.option("--headroom", type=click.FloatRange(0, 1, max_open=True), default=0.1,
              show_default=True,
              help="Fraction of the device's memory left to the framework and driver.")
@click.option("--export", "export_dir", default=None, metavar="DIR",
              type=click.Path(file_okay=False),
              help="Write shape contracts for deployment tools into DIR: torch.export dynamic "
                   "shapes, an ONNX/TensorRT min/opt/max profile and trtexec flags, the TF "
                   "input_signature (docs/sweep-solve.md).")
@click.option("--export-max-size", default=None, metavar="N|HxW",
              help="Largest input size the contract admits (default: a budget's answer, else "
                   "1024), moved down to a valid size.")
@click.option("--export-max-batch", type=click.IntRange(min=1), default=32, show_default=True,
              help="Largest batch of the contract (opt: --batch, else 1).")
def command(spec: str, max_macs: str | None, max_memory: str | None, batch: int | None,
            input_size: str | None, dtype: str, optimizer: str, target_rf: int | None,
            varies: tuple[str, ...], top: int, fmt: str, device: str | None = None,
            max_batch: bool = False, max_size: bool = False, headroom: float = 0.1,
            aspect: str | None = None, export_dir: str | None = None,
            export_max_size: str | None = None, export_max_batch: int = 32) -> None:
    """Answer inverse questions about SPEC.

    Always: the input sizes at which every layer builds, in closed form (minimum size and
    divisibility conditions, with the layers that impose them). With --max-macs or
    --max-memory: the largest input size within the budget (at --batch; in the input's declared
    aspect ratio, or --aspect, square where it has none), or, given
    --input-size, the largest batch. With --target-rf and --vary: the settings reaching that
    receptive field with the fewest MACs.

    \b
    Examples:
      convplan solve examples/unet_4level.yaml
      convplan solve examples/unet_4level.yaml --max-memory 4GiB --batch 16
      convplan solve examples/seed_cnn.yaml --max-macs 1e9 --input-size 224x224
      convplan solve examples/resnet50.yaml --device h100 --max-batch --dtype mixed_bfloat16
      convplan solve examples/unet_small.yaml --device t4 --max-size --batch 16
      convplan solve examples/seed_cnn.yaml --target-rf 32 \\
          --vary 'conv*.strides=1,2' --vary 'conv*.dilation_rate=1..4'
      convplan solve examples/unet_small.yaml --export contracts/ --export-max-size 1024
    """
    from convplan import load
    from convplan.errors import UsageError
    from convplan.explore import solve as S
    from convplan.report import solve_report as R

    macs_budget, memory_budget = _budget(max_macs, "--max-macs"), _budget(max_memory,
                                                                         "--max-memory")
    size = parse_input_size(input_size)
    if (macs_budget or memory_budget) and size is not None and batch is not None:
        raise UsageError("give --batch to solve for the input size, or --input-size to solve "
                         "for the batch, not both")
    if varies and target_rf is None:
        raise UsageError("--vary is used with --target-rf; to sweep, use convplan sweep")
    if target_rf is not None and not varies:
        raise UsageError("--target-rf needs the choices to search: add --vary, for example "
                         "--vary 'conv*.strides=1,2' --vary 'conv*.dilation_rate=1..4'")
    ratio = parse_input_size(aspect.replace(":", "x")) if aspect is not None else None
    if ratio is not None and size is not None:
        raise UsageError("--aspect shapes the input size solved for; with --input-size the "
                         "batch is solved for: give one of them")
    graph = load(spec)
    dtype = resolve_dtype(dtype, graph)
    sizes = S.solve_input_sizes(graph)
    text = R.sizes_text(sizes)
    document: dict = {"spec": graph.name, "input_sizes": R.sizes_json(sizes), "budgets": []}
    for metric, budget in (("macs", macs_budget), ("memory", memory_budget)):
        if budget is None:
            continue
        if size is not None:
            answer = S.largest_batch(graph, size, metric, budget, dtype, optimizer)
        else:
            answer = S.largest_input_size(graph, metric, budget, batch or 1, dtype, optimizer,
                                          ratio)
        text += [""] + R.budget_text(answer, batch or 1, dtype, optimizer,
                                     len(sizes.axes) if len(graph.inputs) == 1 else 0)
        document["budgets"].append(R.budget_json(answer))
    if device is not None or max_batch or max_size:
        text, document = _device_fit(graph, size, batch, dtype, optimizer, device, max_batch,
                                     max_size, headroom, text, document)
    if target_rf is not None:
        from convplan.cli.console import progress
        from convplan.explore.choices import parse_varies
        from convplan.explore.sweep import Sweep, SweepOptions

        sweep = Sweep(graph, parse_varies(graph, list(varies)),
                      SweepOptions(input_size=size, dtype=dtype, optimizer=optimizer,
                                   batch=batch or 1))
        with progress(sweep.total, "sweep") as bar:
            result = S.cheapest_for_field(sweep, target_rf, top, bar.advance)
        text += [""] + R.field_text(sweep, result, target_rf)
        document["target_rf"] = R.field_json(sweep, result, target_rf)
    if export_dir is not None:
        text, document = _export(graph, sizes, document, text, export_dir, export_max_size,
                                 batch or 1, export_max_batch)
    click.echo(R.render_json(document) if fmt == "json" else "\n".join(text) + "\n", nl=False)


def _export(graph, sizes, document, text, folder, max_size, batch, max_batch):
    """--export DIR: the contracts, up to --export-max-size or else a budget's answer."""
    from pathlib import Path

    from convplan.explore import contracts as C

    cap = C.parse_max_size(max_size, [a.symbol for a in sizes.axes])
    answers = [b for b in document["budgets"] if b["unknown"] == "input size" and b["sizes"]]
    if cap is None and answers:
        cap = dict(zip((a.symbol for a in sizes.axes), answers[0]["sizes"]))
    contract = C.derive_contract(graph, sizes, cap, (batch, max(batch, max_batch)))
    C.write_contract(contract, Path(folder))
    document["export"] = C.onnx_profile(contract)
    return text + [""] + C.summary_text(contract, Path(folder)), document


def _device_fit(graph, size, batch, dtype, optimizer, device, max_batch, max_size, headroom,
                text, document):
    """--device with --max-batch or --max-size: the answer and the breakdown behind it."""
    from convplan.analysis import analyze
    from convplan.devices import device as find_device
    from convplan.errors import UsageError
    from convplan.explore import solve as S
    from convplan.options import format_bytes
    from convplan.report import memory_report as M
    from convplan.report import solve_report as R

    if device is None:
        raise UsageError("--max-batch and --max-size need --device NAME (the memory to fit)")
    if max_batch == max_size:
        raise UsageError("--device needs one of --max-batch (at the input size) or --max-size "
                         "(at --batch)")
    chip = find_device(device)
    budget = int(chip.memory * (1 - headroom))
    if max_batch:
        answer = S.largest_batch(graph, size, "memory", budget, dtype, optimizer)
        sizes, at_batch = size, answer.answer
    else:
        # in the input's declared aspect ratio (square where none): answer.scale per axis
        answer = S.largest_input_size(graph, "memory", budget, batch or 1, dtype, optimizer)
        sizes = answer.sizes(answer.answer)
        at_batch = batch or 1
    text = text + ["", f"{chip.description}: {format_bytes(chip.memory)}, {headroom:.0%} "
                   f"headroom -> budget {format_bytes(budget)} (source: {chip.source})"]
    text += R.budget_text(answer, batch or 1, dtype, optimizer,
                          len(graph[graph.inputs[0]].op.shape) - 1 if max_size else 0)
    fit = {"device": chip.name, "memory_bytes": chip.memory, "headroom": headroom,
           "budget_bytes": budget, "answer": R.budget_json(answer)}
    if answer.answer is not None:
        memory = analyze(graph, input_size=sizes).training_memory(at_batch, dtype, optimizer)
        text += [""] + M.breakdown_lines(memory)
        fit["memory"] = M.memory_json(memory)
        fit["memory"].pop("steps")
    document["device_fit"] = fit
    return text, document
