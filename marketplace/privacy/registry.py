"""Every table that holds something about a user, and what export and erasure do with it.

Personal data spans the whole schema, so this one list names tables of every package (as data,
through the shared metadata: the kernel imports none of them). A test compares it with the
schema: a new table with a column pointing at ``users.id`` (directly or through a profile's key)
fails until it is listed here, with its export rows and what an erasure does to it.

SQL fragments take ``:uid`` (the user's id), ``:uid_text`` (the same as text, for audit
subjects), ``:former`` (the name shown instead: "Former member") and ``:removed`` (what stands
where the user's own words were).
"""

# ruff: noqa: S608 - the fragments are our own constants; values are bound parameters.

from __future__ import annotations

from dataclasses import dataclass

FORMER_MEMBER = "Former member"
REMOVED_TEXT = "(removed: the author deleted their account)"

_MY_BOOKINGS = "booking_id IN (SELECT id FROM bookings WHERE student_id = :uid OR tutor_id = :uid)"
_MY_PAYMENTS = "payment_id IN (SELECT id FROM payments WHERE payer_id = :uid OR payee_id = :uid)"
_MY_CONVERSATIONS = (
    "conversation_id IN (SELECT id FROM conversations WHERE student_id = :uid OR tutor_id = :uid)"
)


@dataclass(frozen=True)
class TableRule:
    table: str
    export: str | None
    """WHERE clause for the rows exported to the user; None: nothing of theirs to hand over."""
    erase: tuple[str, ...]
    """Statements run by the erasure (in order, after the tables listed before this one)."""
    keeps: str = ""
    """What stays after an erasure, and why (shown in docs/operations.md)."""
    omit: tuple[str, ...] = ()
    """Columns never exported (secrets and hashes)."""


RULES: tuple[TableRule, ...] = (
    # --- the account ---------------------------------------------------------------------
    TableRule(
        "auth_tokens",
        "user_id = :uid",
        ("DELETE FROM auth_tokens WHERE user_id = :uid",),
        omit=("token_hash",),
    ),
    TableRule(
        "phone_numbers",
        "user_id = :uid",
        ("DELETE FROM phone_numbers WHERE user_id = :uid",),
        omit=("code_hash",),
    ),
    TableRule("data_exports", "user_id = :uid", ("DELETE FROM data_exports WHERE user_id = :uid",)),
    TableRule(
        "account_deletions",
        "user_id = :uid",
        (),
        keeps="The deletion itself (when asked, when done): proof that the request was honoured.",
    ),
    TableRule(
        "notifications",
        "user_id = :uid",
        (
            "DELETE FROM notifications WHERE user_id = :uid",
            # The other side's "new message" lines quoted the deleted user's words.
            "UPDATE notifications SET body = '' WHERE kind = 'message' AND link IN "
            "(SELECT '/messages/' || id FROM conversations WHERE student_id = :uid "
            "OR tutor_id = :uid)",
        ),
    ),
    TableRule(
        "sms_messages",
        "user_id = :uid",
        (
            "DELETE FROM sms_messages WHERE user_id = :uid",
            "UPDATE sms_messages SET body = 'Duet: a message from a former member (text removed).'"
            " WHERE EXISTS (SELECT 1 FROM conversations c WHERE (c.student_id = :uid "
            "OR c.tutor_id = :uid) AND sms_messages.body LIKE '%/messages/' || c.id || '%')",
        ),
    ),
    # --- profiles --------------------------------------------------------------------------
    TableRule(
        "tutor_profiles",
        "user_id = :uid",
        (
            "UPDATE tutor_profiles SET status = 'suspended', status_reason = '', "
            "display_name = :former, headline = '', bio_markdown = '', bio_html = '', "
            "city_geoname_id = NULL, city_name = '', country_code = '', latitude = NULL, "
            "longitude = NULL, travel_radius_km = NULL, photo_key = NULL WHERE user_id = :uid",
        ),
        keeps="A suspended, nameless profile row, so past lessons and payments still point at "
        "a tutor; it is never listed or found again.",
    ),
    TableRule("tutor_instruments", "tutor_id = :uid", ()),
    TableRule("lesson_prices", "tutor_id = :uid", ()),
    TableRule(
        "audio_samples", "tutor_id = :uid", ("DELETE FROM audio_samples WHERE tutor_id = :uid",)
    ),
    TableRule(
        "pending_profile_changes",
        "tutor_id = :uid",
        ("DELETE FROM pending_profile_changes WHERE tutor_id = :uid",),
    ),
    TableRule(
        "moderation_decisions",
        "tutor_id = :uid OR admin_id = :uid",
        (),
        keeps="Admin decisions about a profile (the record of moderation).",
    ),
    TableRule(
        "student_profiles", "user_id = :uid", ("DELETE FROM student_profiles WHERE user_id = :uid",)
    ),
    TableRule("student_instruments", "student_id = :uid", ()),
    # --- conversations ---------------------------------------------------------------------
    TableRule(
        "conversations",
        "student_id = :uid OR tutor_id = :uid",
        (
            "UPDATE conversations SET last_excerpt = :removed WHERE last_sender_id = :uid "
            "AND (student_id = :uid OR tutor_id = :uid)",
        ),
        keeps="Each conversation, so the other side keeps their own messages; the deleted "
        "user shows as a former member.",
    ),
    TableRule("conversation_participants", "user_id = :uid", ()),
    TableRule(
        "messages",
        _MY_CONVERSATIONS,
        (
            "DELETE FROM message_attachments WHERE message_id IN "
            "(SELECT id FROM messages WHERE sender_id = :uid)",
            "UPDATE messages SET body = :removed, body_html = '<p><em>' || :removed || "
            "'</em></p>', has_attachments = false, client_id = '', contact_flags = '{}' "
            "WHERE sender_id = :uid",
        ),
        keeps="Messages the other side wrote; the deleted user's own messages keep only their "
        "place in the thread, their text replaced.",
    ),
    TableRule(
        "message_attachments",
        "message_id IN (SELECT id FROM messages WHERE " + _MY_CONVERSATIONS + ")",
        (),
    ),
    TableRule(
        "attachments",
        "owner_id = :uid",
        ("DELETE FROM attachments WHERE owner_id = :uid",),
    ),
    TableRule(
        "user_blocks",
        "blocker_id = :uid",
        ("DELETE FROM user_blocks WHERE blocker_id = :uid OR blocked_id = :uid",),
    ),
    TableRule(
        "reports",
        "reporter_id = :uid",
        (
            "UPDATE reports SET details = '' WHERE reporter_id = :uid",
            "UPDATE reports SET excerpt = :removed WHERE author_id = :uid",
        ),
        keeps="Reports and their outcome (moderation history); the reporter's explanation "
        "and any quoted text of the deleted user are removed.",
    ),
    # --- scheduling --------------------------------------------------------------------------
    TableRule(
        "booking_rules", "tutor_id = :uid", ("DELETE FROM booking_rules WHERE tutor_id = :uid",)
    ),
    TableRule(
        "availability_rules",
        "tutor_id = :uid",
        ("DELETE FROM availability_rules WHERE tutor_id = :uid",),
    ),
    TableRule(
        "availability_overrides",
        "tutor_id = :uid",
        ("DELETE FROM availability_overrides WHERE tutor_id = :uid",),
    ),
    TableRule("time_off", "tutor_id = :uid", ("DELETE FROM time_off WHERE tutor_id = :uid",)),
    TableRule(
        "idempotency_keys",
        "user_id = :uid",
        ("DELETE FROM idempotency_keys WHERE user_id = :uid",),
    ),
    TableRule(
        "calendar_feeds",
        "user_id = :uid",
        ("DELETE FROM calendar_feeds WHERE user_id = :uid",),
        omit=("token_hash",),
    ),
    TableRule(
        "external_calendars",
        "tutor_id = :uid",
        ("DELETE FROM external_calendars WHERE tutor_id = :uid",),
        omit=("ics_data",),
    ),
    TableRule("busy_times", "tutor_id = :uid", ("DELETE FROM busy_times WHERE tutor_id = :uid",)),
    TableRule(
        "bookings",
        "student_id = :uid OR tutor_id = :uid",
        (
            "UPDATE bookings SET cancel_reason = '' WHERE (student_id = :uid AND cancelled_by = "
            "'student') OR (tutor_id = :uid AND cancelled_by = 'tutor')",
        ),
        keeps="Every lesson (times, price, state): the other side's history and the record the "
        "payments refer to.",
    ),
    TableRule("booking_transitions", _MY_BOOKINGS, ()),
    TableRule("reschedule_requests", _MY_BOOKINGS, ()),
    # --- lessons -----------------------------------------------------------------------------
    TableRule(
        "lesson_notes",
        _MY_BOOKINGS,
        (
            "DELETE FROM lesson_notes WHERE booking_id IN "
            "(SELECT id FROM bookings WHERE student_id = :uid)",
        ),
        keeps="Notes a deleted tutor wrote for a student stay with the student.",
    ),
    TableRule(
        "lesson_homework",
        _MY_BOOKINGS,
        (
            "DELETE FROM lesson_homework WHERE booking_id IN "
            "(SELECT id FROM bookings WHERE student_id = :uid)",
        ),
    ),
    TableRule(
        "lesson_files",
        _MY_BOOKINGS,
        ("DELETE FROM lesson_files WHERE uploaded_by = :uid",),
    ),
    TableRule(
        "practice_entries",
        "student_id = :uid OR tutor_id = :uid",
        ("DELETE FROM practice_entries WHERE student_id = :uid",),
    ),
    TableRule(
        "recordings",
        _MY_BOOKINGS,
        (
            "DELETE FROM recording_tracks WHERE recording_id IN (SELECT id FROM recordings "
            "WHERE " + _MY_BOOKINGS + ")",
            "UPDATE recordings SET status = 'deleted', file_key = NULL, deleted_at = now() "
            "WHERE " + _MY_BOOKINGS + " AND status <> 'deleted'",
        ),
    ),
    TableRule(
        "recording_tracks",
        "user_id = :uid",
        (),
    ),
    TableRule(
        "courses",
        "tutor_id = :uid",
        ("UPDATE courses SET status = 'draft' WHERE tutor_id = :uid",),
        keeps="A deleted tutor's courses leave the catalogue; students who bought one keep it.",
    ),
    TableRule(
        "course_orders",
        "student_id = :uid OR tutor_id = :uid",
        (),
        keeps="Course orders (amounts, dates): accounting records.",
    ),
    TableRule(
        "course_enrolments",
        "student_id = :uid",
        (),
        keeps="Enrolments and progress without any text (course figures stay right).",
    ),
    TableRule(
        "course_item_progress",
        "enrolment_id IN (SELECT id FROM course_enrolments WHERE student_id = :uid)",
        (),
    ),
    TableRule(
        "quiz_attempts",
        "student_id = :uid",
        ("DELETE FROM quiz_attempts WHERE student_id = :uid",),
    ),
    TableRule(
        "certificates",
        "student_id = :uid OR tutor_id = :uid",
        (
            "DELETE FROM certificates WHERE student_id = :uid",
            "UPDATE certificates SET tutor_name = :former WHERE tutor_id = :uid",
        ),
        keeps="Certificates a deleted tutor issued stay with their students (their signed "
        "credential is the student's proof).",
    ),
    TableRule(
        "discussion_threads",
        "author_id = :uid",
        ("UPDATE discussion_threads SET title = :removed WHERE author_id = :uid",),
    ),
    TableRule(
        "discussion_posts",
        "author_id = :uid OR hidden_by = :uid",
        (
            "DELETE FROM discussion_post_attachments WHERE post_id IN "
            "(SELECT id FROM discussion_posts WHERE author_id = :uid)",
            "UPDATE discussion_posts SET body = :removed, body_html = '<p><em>' || :removed || "
            "'</em></p>', has_attachments = false WHERE author_id = :uid",
        ),
        keeps="Posts stay in their thread (replies refer to them), their text replaced.",
    ),
    # --- reviews -----------------------------------------------------------------------------
    TableRule(
        "reviews",
        "student_id = :uid OR tutor_id = :uid",
        (
            "UPDATE reviews SET body = '' WHERE student_id = :uid",
            "UPDATE reviews SET reply = NULL, replied_at = NULL WHERE tutor_id = :uid",
        ),
        keeps="Star ratings a deleted student gave (the tutor's average), without their text.",
    ),
    TableRule(
        "review_reports",
        "reporter_id = :uid",
        ("UPDATE review_reports SET details = '' WHERE reporter_id = :uid",),
    ),
    TableRule(
        "review_moderations",
        "admin_id = :uid OR review_id IN "
        "(SELECT id FROM reviews WHERE student_id = :uid OR tutor_id = :uid)",
        (),
    ),
    TableRule("tutor_review_stats", "tutor_id = :uid", ()),
    # --- money -------------------------------------------------------------------------------
    TableRule(
        "connected_accounts",
        "tutor_id = :uid",
        (),
        keeps="The payout account's identifier at the payment provider: transfers already made "
        "may have to be reversed there.",
    ),
    TableRule(
        "payments",
        "payer_id = :uid OR payee_id = :uid",
        ("UPDATE payments SET client_secret = NULL WHERE payer_id = :uid",),
        keeps="Payments with their amounts and dates (accounting law keeps them for years).",
        omit=("client_secret",),
    ),
    TableRule("payment_items", _MY_PAYMENTS, ()),
    TableRule("refunds", _MY_PAYMENTS, ()),
    TableRule("disputes", _MY_PAYMENTS, ()),
    TableRule("transfers", "tutor_id = :uid", (), keeps="Transfers to the tutor (accounting)."),
    TableRule(
        "transfer_reversals",
        "transfer_id IN (SELECT id FROM transfers WHERE tutor_id = :uid)",
        (),
    ),
    TableRule("provider_payouts", "tutor_id = :uid", ()),
    TableRule(
        "ledger_entries",
        "party IN ('student', 'tutor') AND party_id = :uid",
        (),
        keeps="The ledger: every leg with its amount (append-only; only a memo naming the "
        "person is rewritten).",
    ),
    # --- derived ------------------------------------------------------------------------------
    TableRule(
        "search_documents",
        None,
        (
            # As every index writer: the generation row's lock first, then the row, and the
            # change logged, so caches and in-process facet indexes drop the tutor at once.
            "SELECT 1 FROM search_index_state WHERE id = 1 FOR UPDATE",
            "WITH gone AS (DELETE FROM search_documents WHERE tutor_id = :uid RETURNING 1),"
            " s AS (UPDATE search_index_state SET generation = gen_random_uuid(),"
            " updated_at = now(), seq = seq + 1 WHERE id = 1 AND EXISTS (SELECT FROM gone)"
            " RETURNING generation, seq)"
            " INSERT INTO search_index_changes (seq, generation, tutor_ids)"
            " SELECT seq, generation, ARRAY[CAST(:uid AS bigint)] FROM s",
        ),
    ),
    # --- the record --------------------------------------------------------------------------
    TableRule(
        "audit_entries",
        "actor_id = :uid OR (subject_kind IN ('user', 'tutor') AND subject_id = :uid_text)",
        (),
        keeps="The audit trail (who decided what); text naming the person is rewritten.",
    ),
    TableRule(
        "users",
        "id = :uid",
        (
            "UPDATE users SET full_name = :former, email = :placeholder, "
            "password_hash = '!erased', is_active = false, time_zone = 'UTC', "
            "last_login_at = NULL WHERE id = :uid",
        ),
        keeps="The account row, nameless and closed, so payments and lessons still point at "
        "someone.",
        omit=("password_hash",),
    ),
)

BY_TABLE = {rule.table: rule for rule in RULES}

USER_COLUMNS_WITHOUT_FOREIGN_KEY = {
    "ledger_entries": ("party_id",),
    "audit_entries": ("actor_id",),
    "recording_tracks": ("user_id",),
    "search_documents": ("tutor_id",),
}
"""Columns naming a user without a foreign key (records that must outlive a cascade)."""
