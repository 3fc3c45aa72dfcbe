"""Student–tutor conversations: one thread per pair, live over a WebSocket.

``models`` (tables), ``service`` (the rules: who may write, sequence numbers, read cursors),
``safety`` (blocking, contact-detail reminders), ``notify`` (offline recipients), ``bookings``
(the port through which the kernel asks about bookings it cannot import), ``socket`` (the
WebSocket protocol), ``api`` and ``pages`` (HTTP), ``jobs``, ``demo``.

Higher packages may import ``is_blocked`` from here, or ``blocked_either_way``, the same check as
a clause to embed in a statement (scheduling refuses to hold a lesson between a blocked pair);
nothing else of this package is part of its public surface.
"""

from marketplace.messaging.safety import blocked_either_way, is_blocked

__all__ = ["blocked_either_way", "is_blocked"]
