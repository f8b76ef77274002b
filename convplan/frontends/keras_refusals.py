"""The keras.layers classes convplan refuses on purpose, each with its own reason.

Every public layer class of `keras.layers` (Keras 3.15) is either modelled (an op in
`convplan.ir.ops.OPS` or `ALIASES`, or mapped by the importer: `keras_layers.RENAMED`) or listed
here; `tests/frontends/test_keras_layers_coverage.py` walks `keras.layers` and fails on a class
that is neither. Importing a model that holds one of these fails with its reason, naming the
layer (exit 2 from the CLI), instead of the generic 'not modelled'. A user who knows how such a
layer behaves in their model can still declare it (`custom_layers`, `--custom-layer`): a
declaration is looked up before this table.
"""

from __future__ import annotations

from convplan.errors import UnsupportedError, parameter_name

_DECLARE = (f"declare how it behaves with {parameter_name('custom_layers')} (CLASS=identity, "
            "or the strides, filters and params it has)")

_RECURRENT = ("a recurrent layer, which carries a state from step to step; recurrent "
              "networks are outside the convolution planner's scope")
_CELL = ("a recurrent cell, which only runs inside an RNN layer; recurrent networks are "
         "outside the convolution planner's scope")
_CONV_RECURRENT = ("a convolutional recurrent layer (a convolution inside an LSTM step, over "
                   "a time axis); recurrent networks are outside the convolution planner's "
                   "scope")
_ATTENTION = ("an attention layer, whose outputs mix every position by learned weights of "
              "the data; attention is outside the convolution planner's scope")
_CATEGORICAL = ("categorical preprocessing: it maps values to indices or encodings by a "
                "vocabulary, bins or hashes, so its output depends on data convplan never "
                "sees; run it in the input pipeline")
_TEXT = ("text preprocessing: it acts on strings and a vocabulary, not on tensors of a known "
         "shape; run it in the input pipeline")
_FOREIGN = ("it wraps code from another framework or a saved program, whose shapes and "
            "weights convplan cannot read")
_SPECTROGRAM = ("an audio front end (a short-time Fourier transform) whose frames, windows "
                "and FFT cost convplan does not model; compute spectrograms in the input "
                "pipeline, or declare the layer")
_INFERENCE_CONTRAST = ("unlike the Random* augmentation layers it acts at inference too, "
                       "with per-image statistics: every output pixel reads the whole image "
                       "{what}, and its cost depends on the data; apply it in the input "
                       "pipeline, or declare it as an identity")

# class name in keras.layers -> why convplan does not model it (one sentence, no final stop)
REFUSED: dict[str, str] = {
    "Lambda": "it runs arbitrary Python code, whose shapes and cost convplan cannot see; "
              + _DECLARE,
    "Layer": "it is the base class of every Keras layer; a model that holds it directly, or a "
             "subclass, holds a custom layer: " + _DECLARE,
    "Wrapper": "it is the base class of layer wrappers, which apply another layer in a way "
               "of their own; convplan reads the wrapped layers themselves",
    "TimeDistributed": "it applies the wrapped layer to every step of a time axis, a model "
                       "over sequences of frames that convplan does not plan; unroll the time "
                       "axis into the batch (Reshape) or write a convplan spec",
    "Bidirectional": "it runs a recurrent layer in both directions; recurrent networks are "
                     "outside the convolution planner's scope",
    "SpectralNormalization": "it wraps another layer and renormalizes its kernel by its "
                             "spectral norm with a power iteration; convplan models the "
                             "unwrapped layer only (remove the wrapper to plan the network)",
    "Pipeline": "it chains preprocessing layers inside one layer; convplan reads the layers of "
                "a model, not of a Pipeline (apply it in the input pipeline, or put its "
                "layers in the model)",
    "RNN": _RECURRENT, "LSTM": _RECURRENT, "GRU": _RECURRENT, "SimpleRNN": _RECURRENT,
    "LSTMCell": _CELL, "GRUCell": _CELL, "SimpleRNNCell": _CELL, "StackedRNNCells": _CELL,
    "ConvLSTM1D": _CONV_RECURRENT, "ConvLSTM2D": _CONV_RECURRENT, "ConvLSTM3D": _CONV_RECURRENT,
    "Attention": _ATTENTION, "AdditiveAttention": _ATTENTION, "MultiHeadAttention": _ATTENTION,
    "GroupedQueryAttention": _ATTENTION, "GroupQueryAttention": _ATTENTION,
    "TextVectorization": _TEXT, "StringLookup": _TEXT,
    "IntegerLookup": _CATEGORICAL, "CategoryEncoding": _CATEGORICAL,
    "Discretization": _CATEGORICAL, "Hashing": _CATEGORICAL, "HashedCrossing": _CATEGORICAL,
    "ReversibleEmbedding": "a token embedding whose matrix also serves, transposed, as the "
                           "output projection of a language model; token models are outside "
                           "the convolution planner's scope",
    "TFSMLayer": "it calls a TensorFlow SavedModel; " + _FOREIGN,
    "JaxLayer": "it calls a JAX function; " + _FOREIGN,
    "FlaxLayer": "it calls a Flax module; " + _FOREIGN,
    "TorchModuleWrapper": "it calls a PyTorch module; " + _FOREIGN,
    "MelSpectrogram": _SPECTROGRAM, "STFTSpectrogram": _SPECTROGRAM,
    "MaxNumBoundingBoxes": "it pads or truncates bounding-box annotations (a dict of boxes and "
                           "labels), not image tensors; run it in the input pipeline",
    "AutoContrast": _INFERENCE_CONTRAST.format(what="(its minimum and maximum)"),
    "ContrastLimitedAdaptiveHistogramEqualization": _INFERENCE_CONTRAST.format(
        what="tile around it (histograms per tile, interpolated)"),
    # measured on Keras 3.15.1: Equalization.compute_output_spec returns `inputs`, so the
    # layer's symbolic output is its input tensor, now marked as the layer's own output, and
    # keras.Model refuses the graph ("... is part of a cycle"), Sequential too; only an
    # Equalization fed by an Input and read by another layer builds
    "Equalization": "in Keras 3.15 its symbolic output is its input tensor itself, so Keras "
                    "refuses a model through it as a cycle (all but one fed straight from an "
                    "Input into another layer); apply it in the input pipeline (tf.data) instead",
}


def _from_keras(module: object) -> bool:
    """The class is Keras's own, not a user's class of the same name."""
    return module is None or (isinstance(module, str)
                              and (module == "keras" or module.startswith("keras.")))


def refused_op(op_type: str, layer: str | None) -> UnsupportedError | None:
    """The error for a spec's op that names a Keras class refused on purpose."""
    reason = REFUSED.get(op_type)
    if reason is None:
        return None
    return UnsupportedError(f"op {op_type!r} is not modelled: {reason}", layer=layer,
                            op=op_type)


def refusal(entry: dict, layer: str) -> UnsupportedError | None:
    """The error for a Keras layer class convplan refuses on purpose, None for any other."""
    class_name = entry.get("class_name")
    reason = REFUSED.get(class_name) if isinstance(class_name, str) else None
    if reason is None or not _from_keras(entry.get("module")):
        return None
    return UnsupportedError(f"Keras layer class {class_name!r} is not modelled: {reason}",
                            layer=layer, op=str(class_name))
