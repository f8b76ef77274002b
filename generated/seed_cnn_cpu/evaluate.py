"""Evaluate a trained model on the validation data: `python evaluate.py --output-dir runs/first`.

Loads OUTPUT_DIR/model.keras (compiled as it was trained) and writes OUTPUT_DIR/evaluation.json
with the loss and accuracy. Pass the same --dataset, --data-dir, --validation-split and --seed
as to train.py to evaluate on the same held-out examples.
"""

import argparse
import json
import sys
from pathlib import Path

import keras

import data


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Evaluate a trained model.")
    parser.add_argument("--output-dir", default="runs/latest")
    parser.add_argument("--model", default=None, help="default: OUTPUT_DIR/model.keras")
    parser.add_argument("--dataset", choices=data.DATASETS, default=data.DEFAULT_DATASET)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--validation-split", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--synthetic-size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    model = keras.saving.load_model(args.model or Path(args.output_dir) / "model.keras")
    _, held_out = data.load(args.dataset, args.data_dir, args.validation_split, args.seed,
                            args.synthetic_size)
    if held_out is None:
        raise data.DataError("no validation examples (--validation-split is 0)")
    batches = data.make_pipeline(held_out, args.batch_size, training=False, drop_remainder=False)
    results = {k: float(v) for k, v in model.evaluate(batches, return_dict=True, verbose=2).items()}
    path = Path(args.output_dir) / "evaluation.json"
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    try:
        print(json.dumps(main(), indent=2))
    except data.DataError as error:
        sys.exit(f"evaluate.py: {error}")
