"""Analysis speed (issue 2): convplan vs building and profiling the same model in TensorFlow.

Prints, as whole processes and in-process:
- ResNet-50 (177 layers) analyzed at 224x224, concrete only and with formulas;
- a 1,000-layer network analyzed at a concrete size and symbolically;
- building ResNet-50 in TensorFlow and profiling it, and the ratio.

    .venv/bin/python benchmarks/bench_analyze.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def deep_spec(blocks: int) -> str:
    """A residual stack of `blocks` x 4 layers (conv, BN, ReLU, Add) = 4 * blocks + 1 layers."""
    return f"""name: deep
inputs: {{x: [H, W, 32]}}
blocks:
  res:
    layers:
      - {{name: conv, op: Conv2D, filters: 32, kernel_size: 3, padding: same}}
      - {{name: bn, op: BatchNormalization}}
      - {{name: relu, op: ReLU}}
      - {{name: add, op: Add, inputs: [$input, relu]}}
layers:
  - {{name: stack, block: res, repeat: {blocks}}}
"""


def process_seconds(args: list[str]) -> float:
    """Wall time of a whole process, best of 3."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        best = min(best, time.perf_counter() - start)
    return best


def in_process(graph, **kwargs) -> float:
    from convplan import analyze

    start = time.process_time()
    analyze(graph, **kwargs)
    return time.process_time() - start


def main() -> None:
    import convplan

    convplan_bin = str(BIN / "convplan")
    resnet = ROOT / "examples" / "resnet50.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        deep = Path(tmp) / "deep.yaml"
        deep.write_text(deep_spec(250))
        graph = convplan.load(resnet)
        deep_graph = convplan.load(deep)
        rows = [
            ("ResNet-50 in-process, 224x224 (process time)", in_process(graph)),
            ("ResNet-50 in-process, symbolic in H, W", in_process(graph, generalize=True)),
            (f"{len(deep_graph)}-layer net in-process, 224x224",
             in_process(deep_graph, input_size=(224, 224))),
            (f"{len(deep_graph)}-layer net in-process, symbolic", in_process(deep_graph)),
            ("convplan analyze resnet50.yaml --no-symbolic (whole process)",
             process_seconds([convplan_bin, "analyze", str(resnet), "--no-symbolic",
                              "--format", "json"])),
            ("convplan analyze resnet50.yaml with formulas (whole process)",
             process_seconds([convplan_bin, "analyze", str(resnet), "--format", "json"])),
            (f"convplan analyze {len(deep_graph)}-layer net --input-size 224x224 (whole process)",
             process_seconds([convplan_bin, "analyze", str(deep), "--input-size", "224x224",
                              "--no-symbolic", "--format", "json"])),
        ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "tf_profile.py"), "resnet50"],
                         check=True, capture_output=True, text=True, env=env).stdout
    tf_seconds = time.perf_counter() - start
    rows.append(("TensorFlow: build ResNet-50 + profile (whole process)", tf_seconds))
    width = max(len(r[0]) for r in rows)
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds:8.3f} s")
    print(f"TF profiler said: {out.strip()}")
    print(f"ratio TF / convplan (ResNet-50, whole process, no formulas): "
          f"{tf_seconds / rows[4][1]:.1f}x")
    print(f"ratio TF / convplan (ResNet-50, whole process, with formulas): "
          f"{tf_seconds / rows[5][1]:.1f}x")


if __name__ == "__main__":
    main()
