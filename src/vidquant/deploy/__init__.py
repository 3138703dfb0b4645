"""The deployable INT8 DCVC-RT decoder: numpy, ONNX Runtime and constriction, no PyTorch.

``vidquant codec export-decoder`` writes a bundle folder (integer decoder graphs, entropy
tables, per-qp tables, manifest); ``BundleDecoder(folder).decode(stream)`` decodes streams of
the student it was exported from, sample for sample as the PyTorch encoder reconstructed them
(docs/deploy.md). Nothing in this package imports torch or ``vidquant.models``: the codec's
PyTorch side imports from here (the bitstream format, entropy coding, pictures) instead.
"""

from vidquant.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {"vidquant.deploy.bundle": ("BundleDecoder",)})
