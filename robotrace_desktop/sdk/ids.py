"""Ids of episodes the SDK writes: here, not in ``sdk.client``, so the recorder (which the
client opens) does not import the client back."""

from __future__ import annotations

import secrets


def new_episode_id() -> str:
    """A random 64-bit id (16 hex): stable once written (it is the manifest ``id``)."""
    return secrets.token_hex(8)
