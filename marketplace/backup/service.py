"""Writing, verifying and restoring a backup archive."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO

from marketplace import migrate
from marketplace.backup.manifest import DUMP, MANIFEST, BackupError, FileEntry, Manifest
from marketplace.backup.postgres import database, find_tool, run_tool
from marketplace.settings import Settings

SECRET_FILES = ("secret_key", "certificate_signing_key")
_CHUNK = 1024 * 1024
# Folders under a media root that hold work in progress, never a stored file.
_SKIPPED_DIRS = frozenset({"tmp"})

Report = Callable[[str], None]


def media_roots(settings: Settings) -> dict[str, Path]:
    """Archive prefix → folder on this machine."""
    return {
        "media": settings.media.root,
        "private-media": settings.messaging.private_root,
        "recordings": settings.video.recordings_root,
    }


# --------------------------------------------------------------------- backup


class _HashingReader:
    """Reads exactly ``size`` bytes of a file for tarfile while hashing them."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.digest.update(data)
        return data


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> FileEntry | None:
    """Add one file as it is when opened; None when it vanished since it was listed."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    with handle:
        # The size of the open file: media are replaced by rename, never rewritten in place,
        # and a recording still being written is copied up to this size.
        size = os.fstat(handle.fileno()).st_size
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = int(os.fstat(handle.fileno()).st_mtime)
        info.mode = 0o600
        reader = _HashingReader(handle)
        tar.addfile(info, reader)
        return FileEntry(name, size, reader.digest.hexdigest())


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        if rel == Path("."):
            dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS]
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".part"):  # a write in progress, renamed into place when done
                continue
            yield (rel / name).as_posix(), Path(folder) / name


def default_archive_name(now: datetime) -> str:
    return f"duet-backup-{now.strftime('%Y%m%dT%H%M%SZ')}.tar"


def create_backup(
    settings: Settings, output: Path, *, pg_bin: Path | None = None, report: Report = print
) -> tuple[Path, Manifest]:
    """Write a backup archive to ``output`` (a file, or a folder to put a dated one in)."""
    now = datetime.now(UTC)
    if output.is_dir():
        output = output / default_archive_name(now)
    if output.exists():
        raise BackupError(f"{output} exists already; choose another name.")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".part")
    entries: list[FileEntry] = []
    with database(settings, pg_bin, for_restore=False) as target:
        pg_dump = find_tool("pg_dump", target.major, target.bin_dirs)
        revision = target.connection.schema_revision()
        report(f"Dumping the database (PostgreSQL {target.version}, schema {revision})")
        fd, dump_name = tempfile.mkstemp(prefix=".duet-dump-", dir=output.parent)
        os.close(fd)
        dump = Path(dump_name)
        try:
            run_tool(
                [str(pg_dump), "--format=custom", "--no-password", "--file", str(dump)],
                target.connection.libpq_env(),
                "pg_dump",
            )
            # Owner-only: the archive holds every account, message and (embedded) key.
            out_fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(out_fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
                entry = _add_file(tar, DUMP, dump)
                assert entry is not None
                entries.append(entry)
                for prefix, root in media_roots(settings).items():
                    report(f"Copying {prefix} from {root}")
                    for rel, path in _walk(root):
                        added = _add_file(tar, f"{prefix}/{rel}", path)
                        if added is not None:
                            entries.append(added)
                if settings.embedded:
                    for name in SECRET_FILES:
                        added = _add_file(tar, f"var/{name}", settings.var_dir / name)
                        if added is not None:
                            entries.append(added)
                manifest = Manifest(
                    duet_version=_duet_version(),
                    schema_revision=revision,
                    postgres_version=target.version,
                    postgres_major=target.major,
                    created_at=now.isoformat(timespec="seconds"),
                    embedded=settings.embedded,
                    files=entries,
                )
                body = manifest.to_json()
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(body)
                info.mtime = int(now.timestamp())
                info.mode = 0o600
                tar.addfile(info, io.BytesIO(body))
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(partial, output)
        finally:
            dump.unlink(missing_ok=True)
            partial.unlink(missing_ok=True)
    return output, manifest


def _duet_version() -> str:
    try:
        return metadata.version("duet")
    except metadata.PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------- restore


def read_manifest(archive: Path) -> Manifest:
    try:
        with tarfile.open(archive, mode="r:") as tar:
            member = tar.getmember(MANIFEST)
            handle = tar.extractfile(member)
            if handle is None:
                raise KeyError(MANIFEST)
            return Manifest.from_json(handle.read())
    except FileNotFoundError:
        raise BackupError(f"{archive} does not exist.") from None
    except KeyError:
        raise BackupError(f"{archive} has no manifest: it is not a Duet backup.") from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"{archive} is not a readable backup archive ({exc}).") from None


def verify(archive: Path, manifest: Manifest) -> None:
    """Every member listed, of its size and checksum; nothing else in the archive."""
    expected = {entry.name: entry for entry in manifest.files}
    if DUMP not in expected:
        raise BackupError("The backup's manifest lists no database dump.")
    seen: set[str] = set()
    try:
        with tarfile.open(archive, mode="r:") as tar:
            for member in tar:
                if member.name == MANIFEST:
                    continue
                entry = expected.get(member.name)
                if entry is None or not member.isfile() or member.name in seen:
                    raise BackupError(f"The archive holds an unexpected member {member.name!r}.")
                handle = tar.extractfile(member)
                assert handle is not None
                digest = hashlib.sha256()
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                if member.size != entry.size or digest.hexdigest() != entry.sha256:
                    raise BackupError(
                        f"{member.name} in the archive does not match its checksum: "
                        "the backup is damaged. Restore another one."
                    )
                seen.add(member.name)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"The archive is damaged ({exc}). Restore another one.") from None
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"The archive lacks {len(missing)} listed file(s), e.g. {missing[0]}.")


def check_revision(manifest: Manifest) -> str:
    """This code's head; refuses a backup whose revision this code does not know (newer)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config("postgresql://unused"))
    known = {rev.revision for rev in script.walk_revisions()}
    head = script.get_current_head() or ""
    if manifest.schema_revision not in known:
        raise BackupError(
            f"This backup's database schema (revision {manifest.schema_revision}, Duet "
            f"{manifest.duet_version}) is newer than this Duet knows (its newest revision is "
            f"{head}). Restore it with that Duet version or a later one."
        )
    return head


def _member_target(name: str, settings: Settings) -> Path | None:
    prefix, _, rel = name.partition("/")
    if prefix == "var" and rel in SECRET_FILES:
        return settings.var_dir / rel
    root = media_roots(settings).get(prefix)
    if root is None or not rel:
        return None
    target = (root / rel).resolve()
    return target if target.is_relative_to(root.resolve()) else None


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


def restore_backup(
    settings: Settings,
    archive: Path,
    *,
    force: bool = False,
    pg_bin: Path | None = None,
    report: Report = print,
) -> Manifest:
    manifest = read_manifest(archive)
    head = check_revision(manifest)
    for entry in manifest.files:
        if entry.name != DUMP and _member_target(entry.name, settings) is None:
            raise BackupError(f"The archive names a file outside Duet's folders: {entry.name!r}.")
    report(f"Checking {len(manifest.files)} files against their checksums")
    verify(archive, manifest)
    occupied = [str(root) for root in media_roots(settings).values() if _has_files(root)]
    if settings.embedded:
        occupied += [
            str(settings.var_dir / name)
            for name in SECRET_FILES
            if (settings.var_dir / name).exists() and f"var/{name}" in _names(manifest)
        ]
    with database(settings, pg_bin, for_restore=True) as target:
        tables = target.connection.table_count()
        if tables:
            occupied.insert(0, f"the database ({tables} tables)")
        if occupied and not force:
            raise BackupError(
                "The target is not empty: " + ", ".join(occupied) + ". Restore into an empty "
                "folder or database, or pass --force to replace what is there."
            )
        if manifest.postgres_major > target.major:
            raise BackupError(
                f"The backup was made from PostgreSQL {manifest.postgres_major}; the target "
                f"server is PostgreSQL {target.major}. Restore into PostgreSQL "
                f"{manifest.postgres_major} or newer."
            )
        pg_restore = find_tool("pg_restore", target.major, target.bin_dirs)
        if tables:
            report("Emptying the target database (--force)")
            target.connection.empty_schema()
        with tempfile.TemporaryDirectory(prefix=".duet-restore-", dir=_scratch(settings)) as tmp:
            dump = Path(tmp) / DUMP
            report(f"Restoring the database (schema {manifest.schema_revision})")
            _extract(archive, {DUMP: dump})
            run_tool(
                [
                    str(pg_restore), "--no-password", "--no-owner", "--no-privileges",
                    "--exit-on-error", "--single-transaction",
                    "--dbname", target.connection.libpq_env()["PGDATABASE"], str(dump),
                ],
                target.connection.libpq_env(),
                "pg_restore",
            )  # fmt: skip
        if manifest.schema_revision != head:
            report(f"Upgrading the schema from {manifest.schema_revision} to {head}")
        migrate.upgrade(target.connection.url)
    # Files only once the database is in: a refused dump leaves the folders as they were.
    for root in media_roots(settings).values():
        if force and root.is_dir():
            shutil.rmtree(root)
    places: dict[str, Path] = {}
    for entry in manifest.files:
        destination = _member_target(entry.name, settings)
        if entry.name == DUMP or destination is None:
            continue
        if entry.name.startswith("var/") and not settings.embedded:
            report(f"Not restoring {entry.name}: set it in the environment instead")
            continue
        places[entry.name] = destination
    report(f"Restoring {len(places)} files")
    _extract(archive, places)
    return manifest


def _names(manifest: Manifest) -> set[str]:
    return {entry.name for entry in manifest.files}


def _scratch(settings: Settings) -> Path:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return settings.var_dir


def _extract(archive: Path, places: dict[str, Path]) -> None:
    """Write the members named in ``places`` to their paths (write, then rename)."""
    with tarfile.open(archive, mode="r:") as tar:
        for member in tar:
            target = places.get(member.name)
            if target is None:
                continue
            source = tar.extractfile(member)
            assert source is not None
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            with partial.open("wb") as out:
                shutil.copyfileobj(source, out, _CHUNK)
            if member.name.startswith("var/"):
                partial.chmod(0o600)
            os.replace(partial, target)


def describe(manifest: Manifest) -> str:
    """One paragraph about a backup, for ``duet restore --check``."""
    dump = next((f for f in manifest.files if f.name == DUMP), None)
    files = [f for f in manifest.files if f.name != DUMP]
    return (
        f"Duet {manifest.duet_version} backup of {manifest.created_at}: schema "
        f"{manifest.schema_revision}, PostgreSQL {manifest.postgres_version}, database dump "
        f"{dump.size if dump else 0} bytes, {len(files)} files "
        f"({sum(f.size for f in files)} bytes)."
    )
