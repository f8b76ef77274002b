"""Symbolic analysis: rule tables per op -> shapes, receptive fields, params, MACs/FLOPs,
memory. Never imports TensorFlow."""

from convplan.analysis.analyze import Analysis, LayerResult, Totals, analyze, input_shapes

__all__ = ["Analysis", "LayerResult", "Totals", "analyze", "input_shapes"]
