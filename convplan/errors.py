"""One error hierarchy for everything convplan reports about bad input.

The CLI prints ``str(error)`` on one line and exits 2 for any :class:`ConvplanError`;
anything else is a bug and keeps its traceback.

Messages name what the library was given by its parameter name, in backticks (`` `input_size`
must have 2 values``), never by a command-line flag: the library is called from Python too.
The CLI turns each backticked parameter into its flag (`cli_message`).
"""

from __future__ import annotations


class ConvplanError(Exception):
    """Base class: a problem with what the user gave us, explained in one line."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = " ".join(message.split())
        self.hint = hint
        text = self.message
        if hint:
            text = text.rstrip(".") + f". Hint: {hint}"
        super().__init__(text)


class SpecError(ConvplanError):
    """The spec file (or Keras model file) is malformed: syntax, schema, types, values.

    ``reason`` is a stable tag for errors that mean "well-formed, but Keras cannot build this
    network" ('empty_output', 'strides_with_dilation', 'keras_rejects'); `convplan check`
    reports those as findings with a rule code instead of failing on bad input.
    """

    def __init__(
        self,
        message: str,
        *,
        layer: str | None = None,
        op: str | None = None,
        hint: str | None = None,
        line: int | None = None,
        reason: str | None = None,
    ) -> None:
        self.layer = layer
        self.op = op
        self.line = line
        self.reason = reason
        where = ""
        if layer is not None:
            where = f"layer {layer!r}" + (f" ({op})" if op else "") + ": "
        super().__init__(where + message, hint=hint)


class GraphError(SpecError):
    """The layers do not form a valid graph: cycles, unknown inputs, duplicate names."""


class ShapeError(SpecError):
    """Shapes are impossible: empty outputs, rank or channel mismatches."""


class NeedsKnownSize(ShapeError):
    """A rule needs a size as a number and was given a formula (`value`): GroupNormalization's
    channel count. A sweep that made that size a symbol derives its values one by one."""

    def __init__(self, message: str, *, value: object, layer: str | None = None,
                 op: str | None = None) -> None:
        super().__init__(message, layer=layer, op=op)
        self.value = value


class UnsupportedError(SpecError):
    """A layer class or option convplan does not model (and will not guess)."""


class UsageError(ConvplanError):
    """Bad arguments to a library call or a command (click cannot detect these)."""


def parameter_name(name: str) -> str:
    """How a message names a parameter: `name` in backticks (the CLI maps it to a flag)."""
    return f"`{name}`"


def cli_message(text: str, flags: dict[str, str]) -> str:
    """The message with each backticked parameter in `flags` written as its flag
    (`input_size` -> --input-size)."""
    for parameter, flag in flags.items():
        text = text.replace(parameter_name(parameter), flag)
    return text
