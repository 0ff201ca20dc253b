"""ZVC69: a learned video codec (container, entropy coding, ONNX networks). Never imports Qt."""

__version__ = "0.1.0"
