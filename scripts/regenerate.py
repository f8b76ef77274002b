"""Regenerate the example projects in generated/ (`make regenerate`), or write them elsewhere.

    python scripts/regenerate.py               # rewrite generated/
    python scripts/regenerate.py --out DIR     # write the same projects below DIR

The projects are the generator's output and are never edited by hand; a test writes them to a
temporary folder and compares them byte for byte with generated/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# folder below generated/ -> (spec in examples/, target, dataset or None for the default)
PROJECTS: dict[str, tuple[str, str, str | None]] = {
    "seed_cnn_cpu": ("seed_cnn.yaml", "cpu", "fashion_mnist"),
    "resnet_small_gpu": ("resnet_small.yaml", "gpu", "cifar10"),
    "mobilenet_small_tpu": ("mobilenet_small.yaml", "tpu", "cifar10"),
    "unet_segmentation_multi_worker": ("unet_segmentation.yaml", "multi-worker", "synthetic"),
}


def regenerate(out: Path) -> list[Path]:
    import convplan
    from convplan.codegen import generate_project

    written = []
    for folder, (spec, target, dataset) in PROJECTS.items():
        graph = convplan.load(ROOT / "examples" / spec)
        path, _ = generate_project(graph, out / folder, target=target, dataset=dataset, force=True)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "generated")
    args = parser.parse_args(argv)
    for path in regenerate(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
