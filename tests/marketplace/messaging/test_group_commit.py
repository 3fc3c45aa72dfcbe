"""Plain messages sent at the same moment share one statement and keep every guarantee of one
message at a time: dense numbers per conversation, resends refused, blocks respected, unread
totals right, every acknowledged message stored."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace import db
from marketplace.accounts.models import Role, User
from marketplace.messaging import group_commit, service
from marketplace.messaging.models import Block, Conversation, Message, Participant
from marketplace.settings import MessagingSettings


async def _people(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[dict[str, int], dict[str, int]]:
    """A tutor with two students, a conversation each: (user ids, conversation ids)."""
    async with sessions() as session, session.begin():
        users = {}
        for name, role in (("ana", Role.STUDENT), ("bo", Role.STUDENT), ("tess", Role.TUTOR)):
            user = User(
                email=f"{name}@example.com",
                password_hash="!",
                full_name=name.title(),
                roles=[role.value],
            )
            session.add(user)
            users[name] = user
        await session.flush()
        conversations = {}
        for student in ("ana", "bo"):
            conversation = Conversation(
                student_id=users[student].id,
                tutor_id=users["tess"].id,
                started_by=users[student].id,
            )
            session.add(conversation)
            await session.flush()
            for who in (student, "tess"):
                session.add(Participant(conversation_id=conversation.id, user_id=users[who].id))
            conversations[student] = conversation.id
        return {k: v.id for k, v in users.items()}, conversations


async def test_concurrent_sends_share_statements_and_keep_the_rules(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    users, cids = await _people(sessions)
    settings = MessagingSettings()
    engine = db.create_engine(database_url, pool_size=2, pre_ping=False, overflow=False)
    statements = 0
    poster = group_commit.poster_for(engine)
    execute = poster._execute

    async def counting(drafts: list[service._Draft]) -> object:
        nonlocal statements
        statements += 1
        return await execute(drafts)

    poster._execute = counting  # type: ignore[method-assign]

    def send(who: str, conversation: str, n: int, client_id: str = "") -> object:
        return service.post_plain(
            engine,
            conversation_id=cids[conversation],
            sender_id=users[who],
            body=f"Message {n} from {who}",
            settings=settings,
            client_id=client_id,
        )

    try:
        sends = [send("ana", "ana", n, f"a{n}") for n in range(12)]
        sends += [send("bo", "bo", n, f"b{n}") for n in range(12)]
        sends += [send("tess", "ana", 99, "t1")]
        posted = await asyncio.gather(*sends)
        assert all(p is not None for p in posted)
        assert statements < len(sends)  # several messages per statement

        async with sessions() as session:
            for conversation in ("ana", "bo"):
                seqs = list(
                    await session.scalars(
                        select(Message.seq)
                        .where(Message.conversation_id == cids[conversation])
                        .order_by(Message.seq)
                    )
                )
                expected = 13 if conversation == "ana" else 12
                assert seqs == list(range(1, expected + 1))
                assert (await session.get(Conversation, cids[conversation])).last_seq == expected  # type: ignore[union-attr]
            tess_unread = await service.unread_total(session, users["tess"])

        # A resend (same client_id) writes nothing; the caller's full path answers it.
        assert await send("ana", "ana", 0, "a0") is None
        # Someone outside the conversation writes nothing.
        assert await send("bo", "ana", 1) is None

        # Two messages to the tutor in one statement: the second row counts both; a message
        # the tutor sends in the same statement clears their unread in that conversation.
        before = tess_unread
        drafts = [
            service._Draft(cids["ana"], users["ana"], "One", "", None, [], []),
            service._Draft(cids["bo"], users["bo"], "Two", "", None, [], []),
        ]
        rows = await execute(drafts)
        assert sorted(r["recipient_unread"] for r in rows) == [before + 2, before + 2]
        drafts = [
            service._Draft(cids["ana"], users["tess"], "Reply", "", None, [], []),
            service._Draft(cids["bo"], users["bo"], "Three", "", None, [], []),
        ]
        rows = await execute(drafts)
        to_tess = next(r for r in rows if r["recipient"] == users["tess"])
        async with sessions() as session:
            assert to_tess["recipient_unread"] == await service.unread_total(session, users["tess"])

        # A block stops the write.
        async with sessions() as session, session.begin():
            session.add(Block(blocker_id=users["tess"], blocked_id=users["bo"]))
        assert await send("bo", "bo", 50) is None
        async with sessions() as session:
            stored = await session.scalar(select(func.count()).select_from(Message))
        assert stored == 25 + 4
    finally:
        await engine.dispose()


async def test_the_resend_check_reads_the_client_id_index(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The plan PostgreSQL keeps for the statement (generic, as after a few runs) looks the
    client_id up in its partial unique index: it used to hash every message with a client_id
    on each statement, so a message's cost grew with the table."""
    users, cids = await _people(sessions)
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO messages (conversation_id, seq, sender_id, body, body_html, client_id)"
                " SELECT :cid, g, :sender, 'x', 'x', 'c' || g FROM generate_series(1, 3000) g"
            ),
            {"cid": cids["ana"], "sender": users["ana"]},
        )
        await session.execute(
            text("UPDATE conversations SET last_seq = 3000 WHERE id = :cid"), {"cid": cids["ana"]}
        )
    engine = db.create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.execute("ANALYZE messages")
            await driver.execute("SET plan_cache_mode = force_generic_plan")
            sql = group_commit._BATCH_SQL
            for n, kind in enumerate(
                ("bigint", "bigint", "text", "text", "text", "text", "timestamptz"), 1
            ):
                sql = sql.replace(f"CAST(${n} AS {kind}[])", f"${n}")
            await driver.execute(
                "PREPARE batch(bigint[], bigint[], text[], text[], text[], text[], timestamptz[])"
                f" AS {sql}"
            )
            plan = "\n".join(
                row[0]
                for row in await driver.fetch(
                    "EXPLAIN EXECUTE batch('{1}', '{1}', '{e}', '{b}', '{h}', '{c}', '{now}')"
                )
            )
            await driver.execute("DEALLOCATE batch")
    finally:
        await engine.dispose()
    assert "uq_messages_client_id" in plan, plan
    assert "hashed SubPlan" not in plan, plan
