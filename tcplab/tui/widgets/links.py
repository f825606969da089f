"""Link directions in the hosts panel: their parameters in a few characters."""

from __future__ import annotations

from tcplab.lab.backend import LinkState


def compact_params(st: LinkState) -> str:
    """A link direction in a few characters: only what is not zero."""
    if not st.up:
        return "DOWN"
    parts = []
    if st.delay:
        parts.append(f"{st.delay * 1000:g}ms")
    if st.jitter:
        parts.append(f"±{st.jitter * 1000:g}ms")
    if st.loss:
        parts.append(f"{st.loss * 100:g}% loss")
    if st.bw:
        parts.append(f"{st.bw / 1e6:g}Mbit")
    return " ".join(parts) or "clean"
