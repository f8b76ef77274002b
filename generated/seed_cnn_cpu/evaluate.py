"""Evaluate a trained model on the validation data: `python evaluate.py --output-dir runs/first`.

Loads OUTPUT_DIR/model.keras and writes OUTPUT_DIR/evaluation.json with the loss (without
label smoothing) and the training metrics, on any Keras backend. Pass the same --dataset,
--data-dir, --validation-split and --seed as to train.py to evaluate on the same examples.
"""

import argparse
import json
import sys

import keras

import data
import files
from train import make_loss, make_metrics


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Evaluate a trained model.")
    parser.add_argument("--output-dir", default="runs/latest")
    parser.add_argument("--model", default=None, help="default: OUTPUT_DIR/model.keras")
    parser.add_argument("--dataset", choices=data.DATASETS, default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--validation-split", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--synthetic-size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    model = keras.saving.load_model(args.model or files.join(args.output_dir, "model.keras"),
                                    compile=False)
    model.compile(loss=make_loss(), metrics=make_metrics())
    _, held_out = data.load(args.dataset, args.data_dir, args.validation_split, args.seed,
                            args.synthetic_size)
    if held_out is None:
        raise data.DataError("no validation examples (--validation-split is 0)")
    batches = data.make_pipeline(held_out, args.batch_size, training=False, drop_remainder=False)
    results = {k: float(v) for k, v in model.evaluate(batches, return_dict=True, verbose=2).items()}
    files.write_json(files.join(args.output_dir, "evaluation.json"), results)
    return results


if __name__ == "__main__":
    try:
        print(json.dumps(main(), indent=2))
    except data.DataError as error:
        sys.exit(f"evaluate.py: {error}")
