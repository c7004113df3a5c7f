"""A camera that owns the episode it came from.

A ROS image topic's frames are read through its bag, so the EpisodeSource must stay open as
long as the camera is used. The viewer opens one EpisodeSource per decode thread; this wrapper
closes it together with the camera.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from robotrace_desktop.video.frames import FrameSource, VideoFrame

if TYPE_CHECKING:
    import numpy as np

    from robotrace_desktop.core.episode import EpisodeSource


class OwnedFrameSource(FrameSource):
    """Delegates to ``inner`` (including extras such as ``nearest_cached`` or ``prefetch``)."""

    def __init__(self, inner: FrameSource, owner: EpisodeSource) -> None:
        self._inner = inner
        self._owner = owner
        self.name = inner.name

    def frame_times_ns(self) -> np.ndarray:
        return self._inner.frame_times_ns()

    def frame(self, index: int) -> VideoFrame:
        return self._inner.frame(index)

    def frame_index_at(self, t_ns: int) -> int | None:
        return self._inner.frame_index_at(t_ns)

    def nominal_frame_ns(self) -> int:
        return self._inner.nominal_frame_ns()

    def unwrapped(self) -> FrameSource:
        """The camera this wraps, itself unwrapped when nested: what a decode thread asks to
        find the container's own frame cache and prefetch (the owner stays open with this)."""
        inner = self._inner
        return inner.unwrapped() if isinstance(inner, OwnedFrameSource) else inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._owner.close()


def camera_opener(
    open_episode: Callable[[], EpisodeSource], camera: str
) -> Callable[[], FrameSource]:
    """A function that, called in any thread, opens the episode afresh and returns one camera."""

    def open_camera() -> FrameSource:
        source = open_episode()
        try:
            return OwnedFrameSource(source.video(camera), source)
        except BaseException:
            source.close()
            raise

    return open_camera
