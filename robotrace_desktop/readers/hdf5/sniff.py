"""Is it HDF5: the file name and the signature, without h5py (the registry entry and the
reading both ask)."""

from __future__ import annotations

from pathlib import Path

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# Only HDF5-named files: many foreign formats are HDF5 inside (.mat v7.3, .nc, .nwb).
HDF5_SUFFIXES = (".hdf5", ".h5", ".hdf", ".he5")


def has_signature(path: Path) -> bool:
    """The signature sits at 0 or at a user-block offset (512, 1024, 2048 …)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        offset = 0
        while offset + 8 <= size and offset <= 1 << 20:
            handle.seek(offset)
            if handle.read(8) == HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False
