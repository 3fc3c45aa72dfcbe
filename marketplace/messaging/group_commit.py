"""Group commit for plain messages: the sends that arrive while a write is under way share the
next statement.

Each web process keeps, per engine, a queue of plain messages waiting to be written. A send
joins the queue; when fewer than ``LANES`` writes are in flight, one starts and takes every
waiting message (one per conversation, at most ``MAX_BATCH``) into one autocommitted statement.
Nobody waits for a timer: an idle process writes a lone message at once, a busy one writes
several per round trip, so the round trips, statements and commits per message fall as the
load rises. A send returns only after the statement that holds its message has committed, so
an acknowledged message is a stored one, as before.

One message per conversation per statement keeps the numbering rule of ``service._POST``
(``last_seq + 1`` under the conversation's row lock); a second message to the same
conversation waits for the next statement. If a statement fails on a duplicate ``client_id``
(a resend racing its original from another process), its messages are written again one by one
so only the duplicate gets the error.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from marketplace.messaging.service import _Draft

MAX_BATCH = 64
LANES = 2  # statements in flight per process: a slow one does not hold up every send

# Several messages in the shape of ``service._POST``, one per conversation. The recipient's
# unread total is read from the snapshot before the statement, adjusted for this statement's
# own messages: +1 for a conversation where they received one, 0 where they sent one (their
# read cursor moved to the end).
_BATCH_SQL = """
WITH i AS (
    SELECT * FROM unnest(
        CAST($1 AS bigint[]), CAST($2 AS bigint[]), CAST($3 AS text[]), CAST($4 AS text[]),
        CAST($5 AS text[]), CAST($6 AS text[]), CAST($7 AS timestamptz[])
    ) AS i(cid, sender, excerpt, body, html, client_id, at)
), l AS (
    -- The rows locked in one order (by id), so two statements sharing conversations queue
    -- instead of deadlocking.
    SELECT k.id FROM conversations k WHERE k.id = ANY(CAST($1 AS bigint[]))
     ORDER BY k.id FOR NO KEY UPDATE
), c AS (
    UPDATE conversations k
       SET last_seq = k.last_seq + 1, last_message_at = i.at, last_sender_id = i.sender,
           last_excerpt = i.excerpt
      FROM i
     WHERE k.id = i.cid AND i.sender IN (k.student_id, k.tutor_id)
       AND k.id IN (SELECT id FROM l)
       AND NOT EXISTS (
           SELECT 1 FROM user_blocks b
            WHERE (b.blocker_id = k.student_id AND b.blocked_id = k.tutor_id)
               OR (b.blocker_id = k.tutor_id AND b.blocked_id = k.student_id))
       -- No earlier message with this client_id ('' never matches). Spelled so the partial
       -- unique index answers it: an OR around it, or no "<> ''", made PostgreSQL hash every
       -- message with a client_id on each statement.
       AND NOT EXISTS (
           SELECT 1 FROM messages m
            WHERE m.conversation_id = i.cid AND m.sender_id = i.sender
              AND m.client_id = i.client_id AND m.client_id <> '')
 RETURNING k.id, k.last_seq, k.student_id, k.tutor_id, k.private, i.sender, i.body, i.html,
           i.client_id, i.at,
           CASE WHEN k.student_id = i.sender THEN k.tutor_id ELSE k.student_id END AS recipient
), m AS (
    INSERT INTO messages (conversation_id, seq, sender_id, body, body_html, booking_id,
                          contact_flags, has_attachments, client_id, created_at)
    SELECT id, last_seq, sender, body, html, NULL, CAST('{}' AS varchar[]), false, client_id, at
      FROM c
 RETURNING id, conversation_id, seq
), r AS (
    UPDATE conversation_participants p
       SET last_read_seq = c.last_seq, last_read_at = c.at
      FROM c
     WHERE p.conversation_id = c.id AND p.user_id = c.sender
)
SELECT m.id, m.seq, c.id AS cid, c.student_id, c.tutor_id, c.private, c.recipient,
       (SELECT coalesce(sum(CASE WHEN b.sender = c.recipient THEN 0
                                 WHEN b.id IS NOT NULL THEN c2.last_seq - p2.last_read_seq + 1
                                 ELSE c2.last_seq - p2.last_read_seq END), 0)
          FROM conversation_participants p2
          JOIN conversations c2 ON c2.id = p2.conversation_id
          LEFT JOIN c b ON b.id = c2.id
         WHERE p2.user_id = c.recipient) AS recipient_unread
  FROM m JOIN c ON c.id = m.conversation_id
"""

_Waiting = tuple["_Draft", "asyncio.Future[Mapping[str, Any] | None]"]


class GroupPoster:
    """The queue of one engine in one event loop."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._waiting: list[_Waiting] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()  # held, so none is collected mid-write

    async def post(self, draft: _Draft) -> Mapping[str, Any] | None:
        """The written row (id, seq, recipient, unread…) once committed; None if the statement
        wrote nothing for it (not a participant, blocked, a resend)."""
        future: asyncio.Future[Mapping[str, Any] | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting.append((draft, future))
        if self._in_flight < LANES:
            self._in_flight += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while batch := self._take():
                await self._write(batch)
        finally:
            self._in_flight -= 1

    def _take(self) -> list[_Waiting]:
        batch: list[_Waiting] = []
        rest: list[_Waiting] = []
        conversations: set[int] = set()
        for item in self._waiting:
            cid = item[0].conversation_id
            if len(batch) < MAX_BATCH and cid not in conversations:
                conversations.add(cid)
                batch.append(item)
            else:
                rest.append(item)
        self._waiting = rest
        return batch

    async def _write(self, batch: list[_Waiting]) -> None:
        try:
            rows = await self._execute([draft for draft, _ in batch])
        except (IntegrityError, _Deadlock) as exc:
            if len(batch) == 1:
                _fail(batch, exc.error if isinstance(exc, _Deadlock) else exc)
                return
            for item in batch:  # one by one: only a duplicate fails, one row cannot deadlock
                await self._write([item])
            return
        except BaseException as exc:
            _fail(batch, exc)
            if not isinstance(exc, Exception):
                raise
            return
        by_conversation = {row["cid"]: row for row in rows}
        for draft, future in batch:
            if not future.done():
                future.set_result(by_conversation.get(draft.conversation_id))

    async def _execute(self, drafts: list[_Draft]) -> list[Mapping[str, Any]]:
        drafts = sorted(drafts, key=lambda d: d.conversation_id)
        names = ("cid", "sender", "excerpt", "body", "html", "client_id", "now")
        columns: list[list[Any]] = [[] for _ in names]
        for draft in drafts:
            params = draft.params()
            for column, name in zip(columns, names, strict=True):
                column.append(params[name])
        async with self._engine.connect() as conn:
            pooled = await conn.get_raw_connection()
            driver: Any = pooled.driver_connection
            # Outside a transaction asyncpg runs the statement in autocommit: it is its own
            # transaction. Errors become SQLAlchemy's, as callers expect (IntegrityError for
            # a duplicate client_id, DBAPIError with connection_invalidated for a dead link).
            try:
                return list(await driver.fetch(_BATCH_SQL, *columns))
            except asyncpg.UniqueViolationError as exc:
                raise IntegrityError(_BATCH_SQL, None, exc) from exc
            except asyncpg.DeadlockDetectedError as exc:
                raise _Deadlock(DBAPIError(_BATCH_SQL, None, exc)) from exc
            except (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError, OSError) as exc:
                await conn.invalidate(exc)
                raise DBAPIError(_BATCH_SQL, None, exc, connection_invalidated=True) from exc


class _Deadlock(Exception):
    """Two statements locked shared conversations in opposite orders (should the planner not
    follow the ordered lock above): the batch is written again one message at a time."""

    def __init__(self, error: DBAPIError) -> None:
        super().__init__(str(error))
        self.error = error


def _fail(batch: list[_Waiting], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)


_posters: weakref.WeakKeyDictionary[AsyncEngine, weakref.WeakKeyDictionary[Any, GroupPoster]] = (
    weakref.WeakKeyDictionary()
)


def poster_for(engine: AsyncEngine) -> GroupPoster:
    """The queue of ``engine`` in the running event loop (tests may run several loops)."""
    per_loop = _posters.get(engine)
    if per_loop is None:
        per_loop = _posters[engine] = weakref.WeakKeyDictionary()
    loop = asyncio.get_running_loop()
    poster = per_loop.get(loop)
    if poster is None:
        poster = per_loop[loop] = GroupPoster(engine)
    return poster
