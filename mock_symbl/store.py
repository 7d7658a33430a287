"""Conversations, messages, insights, topics and issued tokens in SQLite.

In memory by default; with a file, several server processes can share it (WAL mode), and
what was stored survives a restart.

A conversation belongs to the process that opened it. A process that dies (`kill -9`, a
crash) leaves its open conversations without an end time; the next server to start on
the file ends them (`end_abandoned`) at the last moment stored for them. To tell a dead
owner from a live one sharing the file, each Store holds an exclusive `flock` on its own
file in `<db>.owners/` for as long as it is open: the kernel drops the lock when the
process dies, however it dies, so a lock that can be taken has no live holder. No
heartbeat to keep up, no process id that could be reused, and it works across processes
that do not see each other's process ids (containers sharing the file).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    app_key TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS revoked_tokens (jti TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    digest TEXT PRIMARY KEY, app_key TEXT NOT NULL, jti TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS trackers (
    id TEXT PRIMARY KEY, app_key TEXT NOT NULL, name TEXT NOT NULL, vocabulary TEXT NOT NULL,
    UNIQUE (app_key, name));
CREATE TABLE IF NOT EXISTS conversation_trackers (
    conversation_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, vocabulary TEXT NOT NULL,
    PRIMARY KEY (conversation_id, name));
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, app_key TEXT NOT NULL, connection_id TEXT NOT NULL, name TEXT,
    start_time TEXT NOT NULL, end_time TEXT, owner TEXT);
CREATE TABLE IF NOT EXISTS members (
    conversation_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT, email TEXT,
    PRIMARY KEY (conversation_id, id));
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, seq INTEGER NOT NULL,
    text TEXT NOT NULL, sender TEXT NOT NULL, start_time TEXT NOT NULL, end_time TEXT NOT NULL,
    time_offset REAL NOT NULL, duration REAL NOT NULL, words TEXT NOT NULL,
    sentiment REAL NOT NULL, entities TEXT);
CREATE TABLE IF NOT EXISTS insights (
    id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,
    text TEXT NOT NULL, score REAL NOT NULL, message_ids TEXT NOT NULL, sender TEXT NOT NULL,
    assignee TEXT, due_by TEXT);
CREATE TABLE IF NOT EXISTS topics (
    conversation_id TEXT NOT NULL, text TEXT NOT NULL, id TEXT NOT NULL, score REAL NOT NULL,
    message_ids TEXT NOT NULL, sentiment REAL NOT NULL, PRIMARY KEY (conversation_id, text));
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, app_key TEXT NOT NULL, conversation_id TEXT NOT NULL,
    status TEXT NOT NULL, message TEXT, updated TEXT NOT NULL, owner TEXT);
"""
# Files written before conversations had owners gain the column; their conversations have
# no owner, and are never ended for one (whoever serves them may still be alive).
_OWNER_COLUMN = "ALTER TABLE conversations ADD COLUMN owner TEXT"
# Messages of files written before messages had entities have none.
_ENTITIES_COLUMN = "ALTER TABLE messages ADD COLUMN entities TEXT"
_OWNER_NAME = re.compile(r"[0-9a-f]{16}")
# The last moment stored for a conversation: its last message's end, else its start.
_END_ABANDONED = """
UPDATE conversations SET end_time = COALESCE(
    (SELECT MAX(m.end_time) FROM messages m WHERE m.conversation_id = conversations.id),
    start_time)
WHERE owner = ? AND end_time IS NULL
"""


@dataclass(frozen=True, slots=True)
class Member:
    """A speaker in a conversation."""

    id: str
    name: str | None = None
    email: str | None = None

    def to_json(self) -> dict[str, Any]:
        """`{id, name, userId?}` as streaming messages carry it (`from`, `user`)."""
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.email:
            out["userId"] = self.email
        return out


@dataclass(frozen=True, slots=True)
class StoredWord:
    """A word with ISO-8601 times and offsets in seconds from the start of the stream."""

    word: str
    start_time: str
    end_time: str
    time_offset: float
    duration: float
    score: float


@dataclass(frozen=True, slots=True)
class StoredEntity:
    """An entity in a message: its type, value, the text said and where it starts."""

    type: str
    value: str
    text: str
    offset: int

    def to_json(self) -> dict[str, Any]:
        """`{type, value, text, offset}` as a message carries it."""
        return {"type": self.type, "value": self.value, "text": self.text, "offset": self.offset}


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A finalised message as the Conversation API returns it."""

    id: str
    conversation_id: str
    text: str
    sender: Member
    start_time: str
    end_time: str
    time_offset: float
    duration: float
    sentiment: float
    words: tuple[StoredWord, ...] = ()
    # Found when the start request asked (detectEntities, redaction.identifyContent).
    entities: tuple[StoredEntity, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredInsight:
    """A question, action item or follow-up."""

    id: str
    conversation_id: str
    type: str
    text: str
    score: float
    message_ids: tuple[str, ...]
    sender: Member
    assignee: Member | None = None
    due_by: str | None = None


@dataclass(frozen=True, slots=True)
class StoredTopic:
    """A topic of a conversation with the messages it comes from."""

    id: str
    conversation_id: str
    text: str
    score: float
    message_ids: tuple[str, ...]
    sentiment: float


@dataclass(frozen=True, slots=True)
class StoredTracker:
    """A named set of phrases: an app's (Management API) or one a conversation ran with."""

    id: str
    name: str
    vocabulary: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConversationTrackers:
    """Trackers a conversation runs with, to record with it."""

    trackers: tuple[StoredTracker, ...]


class TrackerNameTakenError(Exception):
    """An app already has a tracker of that name (names are case-sensitive)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class TrackerLimitError(Exception):
    """An app would hold more trackers than it may."""


@dataclass(frozen=True, slots=True)
class Conversation:
    """A conversation and who owns it."""

    id: str
    app_key: str
    connection_id: str
    name: str | None
    start_time: str
    end_time: str | None
    members: tuple[Member, ...] = field(default=())


def _member(text: str | None) -> Member | None:
    if text is None:
        return None
    data = json.loads(text)
    return Member(id=data["id"], name=data.get("name"), email=data.get("email"))


def _tracker(row: Sequence[Any]) -> StoredTracker:
    return StoredTracker(id=row[0], name=row[1], vocabulary=tuple(json.loads(row[2])))


def _member_json(member: Member) -> str:
    return json.dumps({"id": member.id, "name": member.name, "email": member.email})


class Store:
    """Thread-safe access to one SQLite database (":memory:" or a file path)."""

    def __init__(self, path: Path | None = None) -> None:
        target = ":memory:" if path is None else str(path)
        self._db = sqlite3.connect(target, check_same_thread=False, timeout=30.0)
        self._lock = threading.Lock()
        # In memory nothing outlives the process, so nothing needs an owner.
        self._owners = None if path is None else path.parent / f"{path.name}.owners"
        self._owner: str | None = None
        self._owner_fd: int | None = None
        with self._lock, self._db:
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(conversations)")}
            if "owner" not in columns:
                self._db.execute(_OWNER_COLUMN)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(messages)")}
            if "entities" not in columns:
                self._db.execute(_ENTITIES_COLUMN)
            self._db.execute(
                "INSERT OR IGNORE INTO settings VALUES ('token_secret', ?)",
                (secrets.token_urlsafe(32),),
            )
        if self._owners is not None:
            self._owners.mkdir(exist_ok=True)
            self._owner = secrets.token_hex(8)
            self._owner_fd = os.open(self._owners / self._owner, os.O_CREAT | os.O_RDWR, 0o644)
            fcntl.flock(self._owner_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def close(self) -> None:
        """Close the database; what this store left open may then be ended by the next."""
        with self._lock:
            self._db.close()
            if self._owners is not None and self._owner_fd is not None:
                with contextlib.suppress(FileNotFoundError):
                    (self._owners / str(self._owner)).unlink()
                os.close(self._owner_fd)
                self._owner_fd = None

    def end_abandoned(self) -> list[str]:
        """End the conversations left open by processes that died; their ids.

        Those of live processes sharing the file are left to them.
        """
        if self._owners is None:
            return []
        owners = self._rows(
            "SELECT DISTINCT owner FROM conversations "
            "WHERE end_time IS NULL AND owner IS NOT NULL AND owner != ?",
            (self._owner,),
        )
        ended: list[str] = []
        for (owner,) in owners:
            if not isinstance(owner, str) or not _OWNER_NAME.fullmatch(owner):
                continue
            ended += self._end_if_dead(self._owners / owner, owner)
        return ended

    def _end_if_dead(self, lock_path: Path, owner: str) -> list[str]:
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except FileNotFoundError:
            # Its lock file is gone: it closed, or another server already ended its work.
            fd = None
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return []
            with self._tx() as db:
                open_ids = "SELECT id FROM conversations WHERE owner = ? AND end_time IS NULL"
                ended = [str(row[0]) for row in db.execute(open_ids, (owner,))]
                db.execute(_END_ABANDONED, (owner,))
            with contextlib.suppress(FileNotFoundError):
                lock_path.unlink()
            return ended
        finally:
            if fd is not None:
                os.close(fd)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:
            yield self._db

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    @property
    def token_secret(self) -> str:
        """The key that signs access tokens; shared by every process using this database."""
        (row,) = self._rows("SELECT value FROM settings WHERE name = 'token_secret'")
        return str(row[0])

    def valid_token(self, app_key: str, now: float) -> tuple[str, float] | None:
        """The token issued to an app that is still valid at `now`, with its expiry."""
        rows = self._rows(
            "SELECT token, expires_at FROM tokens WHERE app_key = ? AND expires_at > ?",
            (app_key, now),
        )
        return (str(rows[0][0]), float(rows[0][1])) if rows else None

    def save_token(self, app_key: str, token: str, expires_at: float) -> None:
        """Remember the token issued to an app."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO tokens VALUES (?, ?, ?)", (app_key, token, expires_at)
            )

    def revoke_token(
        self, app_key: str, token: str, jti: str, expires_at: float, now: float
    ) -> None:
        """Refuse a token from now on (until it would have expired anyway), with the refresh
        tokens issued with it; `token:generate` then issues a new one."""
        with self._tx() as db:
            # A revoked token past its expiry is refused anyway: no need to remember it.
            db.execute("DELETE FROM revoked_tokens WHERE expires_at <= ?", (now,))
            db.execute("INSERT OR REPLACE INTO revoked_tokens VALUES (?, ?)", (jti, expires_at))
            db.execute("DELETE FROM refresh_tokens WHERE jti = ?", (jti,))
            db.execute("DELETE FROM tokens WHERE app_key = ? AND token = ?", (app_key, token))

    def is_revoked(self, jti: str) -> bool:
        """Whether the token with this id was revoked."""
        return bool(self._rows("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)))

    def save_refresh_token(
        self, digest: str, app_key: str, jti: str, expires_at: float, now: float, keep: int
    ) -> None:
        """Remember a refresh token (by its digest only) issued with the access token `jti`;
        the app keeps its `keep` newest ones, and expired ones are forgotten."""
        with self._tx() as db:
            db.execute("DELETE FROM refresh_tokens WHERE expires_at <= ?", (now,))
            db.execute(
                "INSERT INTO refresh_tokens VALUES (?, ?, ?, ?)", (digest, app_key, jti, expires_at)
            )
            # A new row's rowid is above every other's: the oldest have the lowest.
            db.execute(
                "DELETE FROM refresh_tokens WHERE app_key = ? AND rowid NOT IN "
                "(SELECT rowid FROM refresh_tokens WHERE app_key = ? ORDER BY rowid DESC LIMIT ?)",
                (app_key, app_key, keep),
            )

    def take_refresh_token(self, digest: str, app_key: str, now: float) -> bool:
        """Spend an app's refresh token: True once, if it is known and still valid."""
        with self._tx() as db:
            spent = db.execute(
                "DELETE FROM refresh_tokens WHERE digest = ? AND app_key = ? AND expires_at > ?",
                (digest, app_key, now),
            )
            return spent.rowcount == 1

    def create_trackers(self, app_key: str, trackers: Sequence[StoredTracker], limit: int) -> None:
        """Add trackers to an app, all or none: TrackerNameTakenError if a name is taken
        (or given twice), TrackerLimitError past `limit` trackers."""
        with self._tx() as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM trackers WHERE app_key = ?", (app_key,)
            ).fetchone()
            if count + len(trackers) > limit:
                raise TrackerLimitError(limit)
            for tracker in trackers:
                try:
                    db.execute(
                        "INSERT INTO trackers VALUES (?, ?, ?, ?)",
                        (tracker.id, app_key, tracker.name, json.dumps(list(tracker.vocabulary))),
                    )
                except sqlite3.IntegrityError:
                    raise TrackerNameTakenError(tracker.name) from None

    def trackers(self, app_key: str, name: str | None = None) -> list[StoredTracker]:
        """An app's trackers in the order they were created (those named `name`, if given)."""
        sql = "SELECT id, name, vocabulary FROM trackers WHERE app_key = ?"
        params: tuple[str, ...] = (app_key,)
        if name is not None:
            sql += " AND name = ?"
            params += (name,)
        return [_tracker(row) for row in self._rows(sql + " ORDER BY rowid", params)]

    def tracker(self, app_key: str, tracker_id: str) -> StoredTracker | None:
        """One of an app's trackers by id."""
        rows = self._rows(
            "SELECT id, name, vocabulary FROM trackers WHERE app_key = ? AND id = ?",
            (app_key, tracker_id),
        )
        return _tracker(rows[0]) if rows else None

    def update_tracker(self, app_key: str, tracker: StoredTracker) -> bool:
        """Replace an app's tracker of the same id; False if there is none,
        TrackerNameTakenError if another of its trackers has the new name."""
        with self._tx() as db:
            try:
                changed = db.execute(
                    "UPDATE trackers SET name = ?, vocabulary = ? WHERE app_key = ? AND id = ?",
                    (tracker.name, json.dumps(list(tracker.vocabulary)), app_key, tracker.id),
                )
            except sqlite3.IntegrityError:
                raise TrackerNameTakenError(tracker.name) from None
            return changed.rowcount == 1

    def delete_tracker(self, app_key: str, tracker_id: str) -> bool:
        """Delete one of an app's trackers; False if there is none."""
        with self._tx() as db:
            deleted = db.execute(
                "DELETE FROM trackers WHERE app_key = ? AND id = ?", (app_key, tracker_id)
            )
            return deleted.rowcount == 1

    def add_conversation_trackers(
        self, conversation_id: str, trackers: Sequence[StoredTracker]
    ) -> None:
        """Record trackers a conversation runs with; a name it has already keeps its first."""
        with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO conversation_trackers VALUES (?, ?, ?, ?)",
                [(conversation_id, t.id, t.name, json.dumps(list(t.vocabulary))) for t in trackers],
            )

    def conversation_trackers(self, conversation_id: str) -> list[StoredTracker]:
        """The trackers a conversation ran with, in the order they joined it."""
        rows = self._rows(
            "SELECT id, name, vocabulary FROM conversation_trackers WHERE conversation_id = ? "
            "ORDER BY rowid",
            (conversation_id,),
        )
        return [_tracker(row) for row in rows]

    def create_conversation(self, conversation: Conversation) -> None:
        """Store a new conversation."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO conversations "
                "(id, app_key, connection_id, name, start_time, end_time, owner) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation.id,
                    conversation.app_key,
                    conversation.connection_id,
                    conversation.name,
                    conversation.start_time,
                    conversation.end_time,
                    self._owner,
                ),
            )

    def add_member(self, conversation_id: str, member: Member) -> None:
        """Add a speaker to a conversation (once)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO members VALUES (?, ?, ?, ?)",
                (conversation_id, member.id, member.name, member.email),
            )

    def update_member(self, conversation_id: str, member: Member) -> bool:
        """Give a member a new name and email everywhere in a conversation: its members,
        messages and insights; False if the conversation has no member of that id."""
        with self._tx() as db:
            changed = db.execute(
                "UPDATE members SET name = ?, email = ? WHERE conversation_id = ? AND id = ?",
                (member.name, member.email, conversation_id, member.id),
            )
            if changed.rowcount != 1:
                return False
            text = _member_json(member)
            for table, column in (
                ("messages", "sender"),
                ("insights", "sender"),
                ("insights", "assignee"),
            ):
                db.execute(
                    f"UPDATE {table} SET {column} = ? "
                    f"WHERE conversation_id = ? AND json_extract({column}, '$.id') = ?",
                    (text, conversation_id, member.id),
                )
            return True

    def assign_speakers(
        self, conversation_id: str, senders: Mapping[str, Member], speakers: Sequence[Member]
    ) -> None:
        """Say who spoke: `senders` maps message ids to their new sender, whose insights
        follow; members left with no message leave, and `speakers` join the members."""
        with self._tx() as db:
            for message_id, member in senders.items():
                db.execute(
                    "UPDATE messages SET sender = ? WHERE conversation_id = ? AND id = ?",
                    (_member_json(member), conversation_id, message_id),
                )
            insights = db.execute(
                "SELECT id, message_ids, assignee FROM insights WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchall()
            for insight_id, message_ids, assignee in insights:
                moved = [senders[i] for i in json.loads(message_ids) if i in senders]
                if not moved:
                    continue
                text = _member_json(moved[0])
                db.execute(
                    "UPDATE insights SET sender = ?, assignee = ? WHERE id = ?",
                    (text, text if assignee is not None else None, insight_id),
                )
            db.execute(
                "DELETE FROM members WHERE conversation_id = ? AND id NOT IN "
                "(SELECT json_extract(sender, '$.id') FROM messages WHERE conversation_id = ?)",
                (conversation_id, conversation_id),
            )
            db.executemany(
                "INSERT OR REPLACE INTO members VALUES (?, ?, ?, ?)",
                [(conversation_id, m.id, m.name, m.email) for m in speakers],
            )

    def end_conversation(self, conversation_id: str, end_time: str) -> None:
        """Mark a conversation as ended."""
        with self._tx() as db:
            db.execute(
                "UPDATE conversations SET end_time = ? WHERE id = ?", (end_time, conversation_id)
            )

    def conversation(self, conversation_id: str, app_key: str) -> Conversation | None:
        """A conversation, if it exists and belongs to `app_key`."""
        rows = self._rows(
            "SELECT id, app_key, connection_id, name, start_time, end_time FROM conversations "
            "WHERE id = ? AND app_key = ?",
            (conversation_id, app_key),
        )
        if not rows:
            return None
        members = tuple(
            Member(id=r[0], name=r[1], email=r[2])
            for r in self._rows(
                "SELECT id, name, email FROM members WHERE conversation_id = ? ORDER BY rowid",
                (conversation_id,),
            )
        )
        row = rows[0]
        return Conversation(
            id=row[0],
            app_key=row[1],
            connection_id=row[2],
            name=row[3],
            start_time=row[4],
            end_time=row[5],
            members=members,
        )

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete a conversation and everything in it."""
        with self._tx() as db:
            for table in ("messages", "insights", "topics", "members", "conversation_trackers"):
                db.execute(f"DELETE FROM {table} WHERE conversation_id = ?", (conversation_id,))
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def add_message(self, message: StoredMessage) -> None:
        """Store a finalised message."""
        words = [
            [w.word, w.start_time, w.end_time, w.time_offset, w.duration, w.score]
            for w in message.words
        ]
        with self._tx() as db:
            (seq,) = db.execute(
                "SELECT COUNT(*) FROM messages WHERE conversation_id = ?",
                (message.conversation_id,),
            ).fetchone()
            db.execute(
                "INSERT INTO messages (id, conversation_id, seq, text, sender, start_time, "
                "end_time, time_offset, duration, words, sentiment, entities) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message.id,
                    message.conversation_id,
                    seq,
                    message.text,
                    _member_json(message.sender),
                    message.start_time,
                    message.end_time,
                    message.time_offset,
                    message.duration,
                    json.dumps(words),
                    message.sentiment,
                    json.dumps([e.to_json() for e in message.entities]),
                ),
            )

    def messages(self, conversation_id: str) -> list[StoredMessage]:
        """A conversation's messages in the order they were finalised."""
        rows = self._rows(
            "SELECT id, conversation_id, text, sender, start_time, end_time, time_offset, "
            "duration, sentiment, words, entities FROM messages WHERE conversation_id = ? "
            "ORDER BY seq",
            (conversation_id,),
        )
        out = []
        for row in rows:
            sender = _member(row[3])
            assert sender is not None
            out.append(
                StoredMessage(
                    id=row[0],
                    conversation_id=row[1],
                    text=row[2],
                    sender=sender,
                    start_time=row[4],
                    end_time=row[5],
                    time_offset=row[6],
                    duration=row[7],
                    sentiment=row[8],
                    words=tuple(StoredWord(*w) for w in json.loads(row[9])),
                    entities=tuple(StoredEntity(**e) for e in json.loads(row[10] or "[]")),
                )
            )
        return out

    def add_insight(self, insight: StoredInsight) -> None:
        """Store an insight."""
        with self._tx() as db:
            (seq,) = db.execute(
                "SELECT COUNT(*) FROM insights WHERE conversation_id = ?",
                (insight.conversation_id,),
            ).fetchone()
            db.execute(
                "INSERT INTO insights VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    insight.id,
                    insight.conversation_id,
                    seq,
                    insight.type,
                    insight.text,
                    insight.score,
                    json.dumps(list(insight.message_ids)),
                    _member_json(insight.sender),
                    _member_json(insight.assignee) if insight.assignee else None,
                    insight.due_by,
                ),
            )

    def insights(self, conversation_id: str, kind: str) -> list[StoredInsight]:
        """A conversation's insights of one type, in order."""
        rows = self._rows(
            "SELECT id, conversation_id, type, text, score, message_ids, sender, assignee, "
            "due_by FROM insights WHERE conversation_id = ? AND type = ? ORDER BY seq",
            (conversation_id, kind),
        )
        out = []
        for row in rows:
            sender = _member(row[6])
            assert sender is not None
            out.append(
                StoredInsight(
                    id=row[0],
                    conversation_id=row[1],
                    type=row[2],
                    text=row[3],
                    score=row[4],
                    message_ids=tuple(json.loads(row[5])),
                    sender=sender,
                    assignee=_member(row[7]),
                    due_by=row[8],
                )
            )
        return out

    def save_topics(self, conversation_id: str, topics: Sequence[StoredTopic]) -> None:
        """Replace a conversation's topics with the current ones."""
        with self._tx() as db:
            db.execute("DELETE FROM topics WHERE conversation_id = ?", (conversation_id,))
            db.executemany(
                "INSERT INTO topics VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        conversation_id,
                        t.text,
                        t.id,
                        t.score,
                        json.dumps(list(t.message_ids)),
                        t.sentiment,
                    )
                    for t in topics
                ],
            )

    def topics(self, conversation_id: str) -> list[StoredTopic]:
        """A conversation's topics, best first."""
        rows = self._rows(
            "SELECT id, conversation_id, text, score, message_ids, sentiment FROM topics "
            "WHERE conversation_id = ? ORDER BY score DESC",
            (conversation_id,),
        )
        return [
            StoredTopic(
                id=r[0],
                conversation_id=r[1],
                text=r[2],
                score=r[3],
                message_ids=tuple(json.loads(r[4])),
                sentiment=r[5],
            )
            for r in rows
        ]

    def conversations_of(self, app_key: str) -> list[Conversation]:
        """Every conversation of an app, with its members, in the order they were created."""
        rows = self._rows(
            "SELECT id, app_key, connection_id, name, start_time, end_time FROM conversations "
            "WHERE app_key = ? ORDER BY rowid",
            (app_key,),
        )
        members: dict[str, list[Member]] = {}
        for conversation_id, *member in self._rows(
            "SELECT m.conversation_id, m.id, m.name, m.email FROM members m "
            "JOIN conversations c ON c.id = m.conversation_id WHERE c.app_key = ? "
            "ORDER BY m.rowid",
            (app_key,),
        ):
            members.setdefault(conversation_id, []).append(Member(*member))
        return [
            Conversation(
                id=row[0],
                app_key=row[1],
                connection_id=row[2],
                name=row[3],
                start_time=row[4],
                end_time=row[5],
                members=tuple(members.get(row[0], ())),
            )
            for row in rows
        ]

    # Async API jobs belong to the process that runs them, as conversations do; one whose
    # process died or closed never finishes, and says so (`fail_abandoned_jobs`).
    def add_job(self, job: StoredJob) -> None:
        """Store a new job, owned by this process."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    job.app_key,
                    job.conversation_id,
                    job.status,
                    job.message,
                    job.updated,
                    self._owner,
                ),
            )

    def update_job(self, job_id: str, status: str, updated: str, message: str | None) -> None:
        """Record a job's new status (and, for a failure, why)."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET status = ?, updated = ?, message = ? WHERE id = ?",
                (status, updated, message, job_id),
            )

    def job(self, job_id: str, app_key: str) -> StoredJob | None:
        """A job, if it exists and belongs to `app_key`."""
        rows = self._rows(
            "SELECT id, app_key, conversation_id, status, message, updated FROM jobs "
            "WHERE id = ? AND app_key = ?",
            (job_id, app_key),
        )
        return StoredJob(*rows[0]) if rows else None

    def fail_abandoned_jobs(self, unfinished: Sequence[str], message: str, now: str) -> list[str]:
        """Fail the jobs in an `unfinished` status whose process is gone; their ids.

        Jobs of live processes sharing the file are left to them.
        """
        if self._owners is None:
            return []
        marks = ", ".join("?" for _ in unfinished)
        rows = self._rows(
            f"SELECT id, owner FROM jobs WHERE status IN ({marks}) AND "
            "(owner IS NULL OR owner != ?)",
            (*unfinished, self._owner),
        )
        failed: list[str] = []
        for job_id, owner in rows:
            if isinstance(owner, str) and _OWNER_NAME.fullmatch(owner) and self._alive(owner):
                continue
            self.update_job(str(job_id), "failed", now, message)
            failed.append(str(job_id))
        return failed

    def name_conversation(self, conversation_id: str, name: str) -> None:
        """Rename a conversation (a job appending to it may name it anew)."""
        with self._tx() as db:
            db.execute("UPDATE conversations SET name = ? WHERE id = ?", (name, conversation_id))

    def _alive(self, owner: str) -> bool:
        """Whether the process that owns `owner`'s lock file still holds it."""
        assert self._owners is not None
        try:
            fd = os.open(self._owners / owner, os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False


@dataclass(frozen=True, slots=True)
class StoredJob:
    """An Async API job: whose it is, the conversation it fills, where it stands."""

    id: str
    app_key: str
    conversation_id: str
    status: str
    message: str | None
    updated: str
