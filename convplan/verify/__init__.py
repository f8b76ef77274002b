"""Verification against real Keras: the only package besides the tests that imports Keras
(lazily, inside functions), so the core stays importable without TensorFlow."""
