"""``prefchat profiles ...``: review, export, delete and migrate stored profiles.

::

    prefchat profiles list [--pack NAME] [--search TEXT] [--min-answers N]
    prefchat profiles show USER
    prefchat profiles export (USER | --all) --format json|csv|parquet --out FILE
    prefchat profiles delete USER [--yes]
    prefchat profiles migrate --from OLDPACK --to NEWPACK

Every command takes ``--db URL`` (default: ``Settings.db_url``). ``export --format json`` writes
everything stored about the user (:meth:`~prefchat.storage.Store.export_user`; a list of them
for ``--all``); csv and parquet write one flat row per profile, in the schema documented in
:mod:`prefchat.ui.export` (the analyst view's export). ``--all``
means every user with a profile. :func:`add_arguments` adds the commands to the ``prefchat``
parser; each sets ``run(args, settings) -> exit status`` and imports storage (SQLAlchemy) and
the export (pandas) when it runs, so that ``prefchat profiles --help`` stays light.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .settings import Settings

FORMATS = ("json", "csv", "parquet")


def add_arguments(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``profiles`` and its actions to the ``prefchat`` command's subparsers."""
    profiles = subparsers.add_parser("profiles", help="review, export, delete and migrate stored profiles")
    actions = profiles.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, run, help: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help)
        parser.add_argument("--db", help="SQLAlchemy URL or SQLite path (default: PREFCHAT_DB or the home database)")
        parser.set_defaults(run=run)
        return parser

    listing = action("list", list_command, "list profiles, most recently updated first")
    listing.add_argument("--pack", help="only profiles of this pack name")
    listing.add_argument("--search", help="case-insensitive text in the user id or the current summary")
    listing.add_argument("--min-answers", type=int, help="only profiles built from at least this many answers")

    show = action("show", show_command, "show a user's profiles and current summaries")
    show.add_argument("user")

    export = action("export", export_command, "export a user, or every user with a profile")
    who = export.add_mutually_exclusive_group(required=True)
    who.add_argument("user", nargs="?", help="the user to export")
    who.add_argument("--all", action="store_true", help="every user with a profile")
    export.add_argument("--format", choices=FORMATS, default="json")
    export.add_argument("--out", required=True, type=Path, help="file to write")
    export.add_argument("--pack", help="name the axes of this pack's profiles in CSV and Parquet (a pack directory, a name, or 'default')")

    delete = action("delete", delete_command, "delete a user and everything stored about them")
    delete.add_argument("user")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    migrate = action("migrate", migrate_command, "carry every profile of one pack to another (e.g. retrained)")
    migrate.add_argument("--from", dest="old", required=True, help="the pack the profiles were built with")
    migrate.add_argument("--to", dest="new", required=True, help="the pack to carry them to")
    return profiles


def _store(args: argparse.Namespace, settings: Settings):
    from .storage import open_store

    return open_store(args.db or settings.db_url)


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    from .ui.export import profile_records

    with _store(args, settings) as store:
        profiles = store.list_profiles(pack_name=args.pack, min_answers=args.min_answers, search=args.search)
        rows = profile_records(store, profiles)
    for row in rows:
        summary = row["summary"] if len(row["summary"]) <= 60 else row["summary"][:59] + "…"
        print(f"{row['user_id']:<34} {row['pack_name']} {row['pack_version']:<16} {row['n_answers']:>3} answers  "
              f"{row['updated_at'][:19]}  {summary}")
    print(f"{len(rows)} profile{'' if len(rows) == 1 else 's'}")
    return 0


def show_command(args: argparse.Namespace, settings: Settings) -> int:
    from .storage import NotFound

    with _store(args, settings) as store:
        try:
            exported = store.export_user(args.user)
        except NotFound as error:
            return _fail(error)
    current = [s for s in exported["summaries"] if s["superseded_at"] is None]
    print(json.dumps({"user": exported["user"], "profiles": exported["profiles"], "summaries": current}, indent=2))
    return 0


def export_command(args: argparse.Namespace, settings: Settings) -> int:
    from .assistant.packs import resolve_pack
    from .reward.pack import load_pack
    from .storage import NotFound
    from .ui.export import profile_records, write_profiles

    with _store(args, settings) as store:
        profiles = store.list_profiles()
        try:
            users = list(dict.fromkeys(p.user_id for p in profiles)) if args.all else [store.get_user(args.user).id]
            if args.format == "json":
                exports = [store.export_user(user) for user in users]
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(exports if args.all else exports[0], indent=2), encoding="utf-8")
                written = f"{len(exports)} user{'' if len(exports) == 1 else 's'}"
            else:
                named = None if args.pack is None else load_pack(resolve_pack(args.pack, settings))
                rows = profile_records(store, [p for p in profiles if p.user_id in users], named)
                write_profiles(rows, args.out, args.format)
                written = f"{len(rows)} profile{'' if len(rows) == 1 else 's'}"
        except NotFound as error:
            return _fail(error)
    print(f"wrote {written} to {args.out}")
    return 0


def delete_command(args: argparse.Namespace, settings: Settings) -> int:
    from .storage import NotFound

    if not args.yes:
        if not sys.stdin.isatty():
            return _fail(f"not deleting {args.user!r} without confirmation: pass --yes")
        answer = input(f"Delete user {args.user!r} and everything stored about them? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    with _store(args, settings) as store:
        try:
            store.delete_user(args.user)
        except NotFound as error:
            return _fail(error)
    print(f"deleted user {args.user!r}")
    return 0


def migrate_command(args: argparse.Namespace, settings: Settings) -> int:
    from .api import migrate_profiles, open_pack

    old, new = open_pack(args.old, settings), open_pack(args.new, settings)
    with _store(args, settings) as store:
        report = migrate_profiles(store, old, new)
    print(f"carried {report.carried} of {report.carried + report.failed} profiles "
          f"from {old.name} {old.version} to {new.name} {new.version}")
    for user_id, reason in report.reasons.items():
        print(f"  not carried: {user_id}: {reason}")
    return 0 if report.failed == 0 else 1


def _fail(error: object) -> int:
    print(f"prefchat: error: {error}", file=sys.stderr)
    return 1
