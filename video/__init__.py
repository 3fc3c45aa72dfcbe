"""The lesson room: signaling, aiortc peers, music-mode media (see docs/architecture.md)."""
