"""Specific exceptions raised by ``vision``; the CLI and the service map them to messages and status codes."""

from __future__ import annotations


class VisionError(Exception):
    """Base class of every error ``vision`` raises on purpose."""


class ImageDecodeError(VisionError):
    """The bytes are not an image we can decode (HTTP 400)."""


class UnsupportedImageType(VisionError):
    """The bytes are an image format we do not accept (HTTP 415)."""


class ChannelMismatch(VisionError):
    """A dual-energy pair whose channels cannot be one scan's: swapped, or unrelated (HTTP 422)."""


class UnsupportedModality(VisionError):
    """An image of a modality the served model does not serve, e.g. a grey single-energy scan (HTTP 422)."""


class ImageTooLarge(VisionError):
    """The image has too many bytes or pixels (HTTP 413)."""


class ModelLoadError(VisionError):
    """A model folder is missing files, or its ONNX file or card is invalid."""
