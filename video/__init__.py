"""The lesson room: signaling, the aiortc media server that forwards without re-encoding,
music-mode SDP, ICE/TURN, recording (see "Lesson room" in docs/architecture.md)."""
