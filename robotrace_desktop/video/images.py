"""Single still images in and out, through PyAV's codecs (no extra imaging dependency).

Used for ROS CompressedImage messages, JPEG-compressed HDF5 camera frames and PNG export.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from robotrace_desktop.errors import CorruptRecordingError

if TYPE_CHECKING:
    import numpy as np

_JPEG_MAGIC = b"\xff\xd8"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _codec_for(data: bytes, format_hint: str) -> Literal["png", "mjpeg"]:
    if data.startswith(_PNG_MAGIC):
        return "png"
    if data.startswith(_JPEG_MAGIC):
        return "mjpeg"
    hint = format_hint.lower()
    if "png" in hint:
        return "png"
    if "jpeg" in hint or "jpg" in hint:
        return "mjpeg"
    raise ValueError(f"unsupported compressed image format {format_hint!r}")


def decode_image_bytes(
    data: bytes | bytearray, format_hint: str = "", *, origin: str = "image"
) -> np.ndarray:
    """Decode one JPEG or PNG image to an (H, W, 3) uint8 RGB array.

    ``origin`` names where the bytes came from (file and topic) for the error message.
    """
    import av

    try:
        codec = av.CodecContext.create(_codec_for(bytes(data[:8]), format_hint), "r")
        frames = codec.decode(av.Packet(bytes(data)))
        if not frames:
            frames = codec.decode(None)
    except (ValueError, av.FFmpegError) as exc:
        raise CorruptRecordingError(origin, f"cannot decode image: {exc}") from exc
    if not frames:
        raise CorruptRecordingError(origin, "cannot decode image: no frame in data")
    return frames[0].to_ndarray(format="rgb24")


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 RGB array (or (H, W) grayscale)."""
    import av
    import numpy as np

    image = np.ascontiguousarray(rgb)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {image.dtype}")
    frame = av.VideoFrame.from_ndarray(image, format="rgb24")
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height = frame.width, frame.height
    codec.pix_fmt = "rgb24"
    packets = [*codec.encode(frame), *codec.encode(None)]
    return b"".join(bytes(p) for p in packets)


def write_png(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(rgb))
    return path
