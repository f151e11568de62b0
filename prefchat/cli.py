"""The ``prefchat`` command line. Heavy libraries are imported inside each command.

Building the parser imports no numpy, scipy, torch, gradio, pandas or SQLAlchemy, so that
``prefchat --help`` and every ``prefchat COMMAND --help`` answer at once (tests/test_cli.py). The
modules that define flags (:mod:`prefchat.profiles`, :mod:`prefchat.ui.commands`,
:mod:`prefchat.ui.analyst_commands`) import what their commands need when they run; the flags of
``prefchat eval`` are here (:func:`add_eval_arguments`), and check strategy and protocol names
against :mod:`prefchat.elicitation` only when they are parsed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from . import __version__
from .assistant.packs import DEFAULT
from .settings import Settings


def _train(args: argparse.Namespace, settings: Settings) -> int:
    from .reward.build import build_pack
    from .reward.data import load_dataset
    from .reward.friends import load_friends

    dataset = load_dataset(args.items, args.ratings, args.pairs, before=args.before)
    friends = None if args.friends is None else load_friends(args.friends)
    out = Path(args.out)
    pack = build_pack(
        dataset, out, settings.embedding_model, settings.cache_dir, name=args.name or out.name,
        n_bases=args.bases, seed=args.seed, holdout_users=args.holdout_users, vocabulary=args.vocabulary, answerable=args.answerable,
        provenance={"items": str(args.items), "ratings": args.ratings and str(args.ratings), "pairs": args.pairs and str(args.pairs),
                    "friends": args.friends and str(args.friends), "before": args.before},
        progress=not args.quiet, friends=friends,
    )
    _print_training_report(pack)
    return 0


def _print_training_report(pack) -> None:
    h, split, metrics = pack.hyperparameters, pack.split, pack.metrics
    print(f"pack {pack.name} {pack.version}: {pack.n_items} items, K={pack.n_learned} learned bases "
          f"+ {len(pack.population_coordinates)} population coordinates")
    chosen = " ".join(f"{name}={h.get(name)}" for name in ("n_bases", "l2", "implicit_weight", "prior_scale", "beta"))
    print(f"chosen on validation users: {chosen} question_size={pack.question_size}")
    print(f"items judged: {pack.answerable}; sessions ask: {pack.objective!r}")
    if pack.social is not None:
        print(f"social prior: trust {pack.social.trust:g}, spread {pack.social.spread:g} over {len(pack.social.members)} "
              f"training users; friends' items weight {pack.social.item_weight:g}, spread {pack.social.item_spread:g}; "
              f"discovery slot {pack.discovery_slot or 'none'}")
    print(f"users: {len(split['train'])} train, {len(split['validation'])} validation, {len(split['test'])} test; "
          f"skipped: {pack.provenance['skipped']}")
    report = metrics.get("test_zero_answers") or {}
    if report:
        print(f"held-out test users ({report['n_test_users']}), pairwise accuracy with no answers:")
        print(f"  population model      {report['pairwise_accuracy_population_model']:.4f}")
        print(f"  mean rating baseline  {report['pairwise_accuracy_mean_rating']:.4f}")
        print(f"  popularity (count)    {report['pairwise_accuracy_popularity_count']:.4f}")
        paired = report["population_minus_mean_rating"]
        print(f"  population - mean rating, paired: {paired['mean_diff']:+.4f} (95% CI {paired['ci95'][0]:+.4f} .. {paired['ci95'][1]:+.4f})")
    for axis in pack.axes[:6]:
        print(f"  axis {axis.index}: {axis_line(axis)}")
    if "seconds_total" in metrics:
        print(f"took {metrics['seconds_total']:.1f} s (embedding {metrics['seconds_embedding']:.1f} s)")


def axis_line(axis) -> str:
    """An axis as ``+ its positive descriptors  |  - its negative ones``, or its name when no
    descriptor fits it (named by exemplar items: 'like "A" vs like "B"')."""
    if not (axis.positive or axis.negative):
        return axis.name
    return f"+ {', '.join(axis.positive)}  |  - {', '.join(axis.negative)}"


def converted_dir(out: Path) -> Path:
    """Where ``prefchat pack movielens --out OUT`` writes the converted CSVs unless ``--work`` says: ``OUT-input``."""
    return out.with_name(out.name + "-input")


def _pack_movielens(args: argparse.Namespace, settings: Settings) -> int:
    from .reward.movielens import convert_movielens

    converted = Path(args.work or converted_dir(Path(args.out)))
    convert_movielens(args.source, converted)
    args.items, args.ratings, args.pairs = converted / "items.csv", converted / "ratings.csv", None
    args.name = args.name or "movielens"
    return _train(args, settings)


def _pack_ciao(args: argparse.Namespace, settings: Settings) -> int:
    from .reward.ciao import convert_ciao

    converted = Path(args.work or converted_dir(Path(args.out)))
    written = convert_ciao(args.source, converted, min_ratings=args.min_ratings)
    print(f"Ciao: {written['n_items']} products rated by at least {args.min_ratings} users "
          f"({written['n_items_dropped']} left out), {written['n_ratings']} ratings, {written['n_links']} trust links")
    args.items, args.ratings, args.pairs, args.friends = converted / "items.csv", converted / "ratings.csv", None, converted / "friends.csv"
    args.name = args.name or "ciao"
    return _train(args, settings)


def _pack_default(args: argparse.Namespace, settings: Settings) -> int:
    """``prefchat pack default``: build the embedded default pack unless an up-to-date one is there."""
    from .default.build import is_current

    out = Path(args.out) if args.out else settings.packs_dir / DEFAULT
    if is_current(out, settings.embedding_model):
        print(f"the default pack in {out} is up to date")
        return 0
    from .reward.pack import load_pack

    _print_training_report(load_pack(ensure_default_pack(settings, out, quiet=args.quiet)))
    return 0


def ensure_default_pack(settings: Settings, out: Path | None = None, quiet: bool = False) -> Path:
    """The default pack's directory (``settings.packs_dir / "default"`` unless ``out``), built first
    if it is missing or its sources changed: the explicit step a server never takes."""
    from .default.build import ensure_default_pack as ensure

    out = out or settings.packs_dir / DEFAULT
    return ensure(out, settings.embedding_model, settings.cache_dir, progress=not quiet)


def _info(args: argparse.Namespace, settings: Settings) -> int:
    from .assistant.packs import resolve_pack
    from .reward.pack import load_pack

    pack = load_pack(resolve_pack(args.pack, settings))
    if not args.json:
        print(f"created {pack.created}, embedding model {pack.embedding_model.get('name')}")
        _print_training_report(pack)
        return 0
    summary = {
        "name": pack.name, "version": pack.version, "created": pack.created, "n_items": pack.n_items,
        "n_bases": pack.n_bases, "answerable": pack.answerable, "objective": pack.objective,
        "question_size": pack.question_size, "hyperparameters": pack.hyperparameters,
        "population_coordinates": list(pack.population_coordinates), "axes": [a.name for a in pack.axes],
        "test_zero_answers": pack.metrics.get("test_zero_answers"),
    }
    print(json.dumps(summary, indent=2))
    return 0


DEFAULT_ANSWERS = "0,1,2,5,10,20"
DEFAULT_STRATEGIES = "population,popularity,random,active,pref-reference,oracle"


def _integer(text: str, minimum: int, what: str) -> int:
    """``text`` as an integer of at least ``minimum``; an argparse error naming it otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} {text.strip()!r} is not an integer") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{what} {value} is below {minimum}")
    return value


def _answer_counts(text: str) -> list[int]:
    """``"0,5,1"`` -> ``[0, 1, 5]``: distinct non-negative integers, sorted."""
    return sorted({_integer(part, 0, "answer count") for part in text.split(",")})


def _strategy_names(text: str) -> list[str]:
    """``"active,random"`` -> ``["active", "random"]``, each a known strategy, in the order given."""
    from .elicitation.evaluate import STRATEGY_NAMES

    names = [part.strip() for part in text.split(",")]
    for name in names:
        if name not in STRATEGY_NAMES:
            raise argparse.ArgumentTypeError(f"unknown strategy {name!r}; known: {', '.join(STRATEGY_NAMES)}")
    return list(dict.fromkeys(names))


PROTOCOL_ALIASES = {"explicit": "prefer", "implicit": "watch"}
"""The protocols' old names, still accepted by ``prefchat eval --protocol``: a protocol is named as the
objective its answers simulate (:data:`prefchat.elicitation.respondents.PROTOCOLS`)."""


def _protocol(text: str) -> str:
    """The protocol ``text`` names: one of :mod:`prefchat.elicitation.respondents`' (or its old name,
    :data:`PROTOCOL_ALIASES`), or ``"simulated"``."""
    from .elicitation.respondents import PROTOCOLS

    known = (*PROTOCOLS, "simulated")
    name = PROTOCOL_ALIASES.get(text, text)
    if name not in known:
        raise argparse.ArgumentTypeError(f"unknown protocol {text!r}; known: {', '.join(known)} "
                                         f"({', '.join(f'{a} = {b}' for a, b in PROTOCOL_ALIASES.items())})")
    return name


def _split_name(text: str) -> str:
    """A split of :data:`prefchat.elicitation.evaluate.SPLITS`."""
    from .elicitation.evaluate import SPLITS

    if text not in SPLITS:
        raise argparse.ArgumentTypeError(f"unknown split {text!r}; known: {', '.join(SPLITS)}")
    return text


def _positive(text: str) -> int:
    return _integer(text, 1, "value")


def moment(text: str) -> float:
    """A moment in the ratings' time: an ISO date or date-time (UTC unless it says otherwise) as seconds
    since 1970, ``"2015-01-01"`` -> 1420070400.0; or a plain number, taken in the timestamps' own unit."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text.strip()!r} is neither a date (2015-01-01) nor a number") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the flags of ``prefchat eval`` (run by :func:`prefchat.evaluation.main`) to ``parser``."""
    parser.add_argument("--pack", required=True, help="pack directory, a pack name, or 'default'")
    parser.add_argument("--ratings", type=Path, help="ratings.csv: user_id,item_id,rating[,timestamp] (prefer and watch protocols)")
    parser.add_argument("--protocol", required=True, type=_protocol, metavar="PROTOCOL",
                        help="how questions are answered: prefer or watch (from held-out --ratings; "
                             "'explicit' and 'implicit' are the same two), or simulated (by the default pack's simulated users)")
    parser.add_argument("--answers", type=_answer_counts, default=_answer_counts(DEFAULT_ANSWERS),
                        help=f"answer counts (clicks, including don't-know) to score at (default {DEFAULT_ANSWERS})")
    parser.add_argument("--strategies", type=_strategy_names, default=DEFAULT_STRATEGIES,
                        help=f"comma-separated strategy names (default {DEFAULT_STRATEGIES}; "
                             "an unknown name is refused with the list of known ones)")
    parser.add_argument("--seeds", type=_positive, default=2, help="QUERY/EVAL splits per user (default 2)")
    parser.add_argument("--split", type=_split_name, default="random", metavar="SPLIT",
                        help="how each test user's ratings split into what they know (QUERY) and what is held out "
                             "(EVAL): at random (default), or in time, the earlier half known and the later half "
                             "held out (needs a timestamp column)")
    parser.add_argument("--cut", type=moment, metavar="DATE",
                        help="with --split time, a global cut: each test user knows their ratings before DATE "
                             "(2015-01-01, UTC, or a timestamp) and is judged on those at or after it; the pack must "
                             "have been trained --before a date no later than DATE")
    parser.add_argument("--pool-size", type=_positive, default=300, help="candidate items for questions (default 300)")
    parser.add_argument("--users", type=_positive, default=None, help="evaluate at most this many test users")
    parser.add_argument("--jobs", type=_positive, default=1, help="worker processes (default 1)")
    parser.add_argument("--answerable", choices=("known", "on-sight"), default=None,
                        help="how the simulated users judge items (default: the pack's): 'on-sight' asks each "
                             "user only about the items they rated, unweighted by familiarity")
    parser.add_argument("--through-api", action="store_true",
                        help="drive the public Python API (Assistant.start/answer/recommend on a temporary SQLite store) "
                             "instead of the in-memory loop: the served path")
    parser.add_argument("--friends", type=Path, help="friends.csv: user_id,friend_id[,weight]; evaluate the social prior "
                                                     "on the test users with a friend among the training users: strategies "
                                                     "active, social-active, social-discovery and the friends-items peer, "
                                                     "Recall@20 and anomalous recall (watch protocol; --strategies is not read)")
    parser.add_argument("--merged-accounts", action="store_true",
                        help="watch protocol with two test users behind each account, a random member answering each "
                             "question (with dated ratings, two users of the same time, served at the later one's "
                             "moment); reports each member's Recall@20 (weaker, stronger) and how often both get a hit")
    parser.add_argument("--json", required=True, type=Path, help="where to write the JSON report")


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from .storage import DatabaseUnavailable, open_store

    url = args.db or settings.db_url
    try:
        open_store(url).close()
    except DatabaseUnavailable as error:
        print(f"prefchat: error: {error}", file=sys.stderr)
        return 2
    print("database schema is up to date")
    return 0


def _db_forget_report(args: argparse.Namespace, settings: Settings) -> int:
    from .storage import DatabaseUnavailable, forget_report, make_engine

    try:
        engine = make_engine(args.db or settings.db_url)
        try:
            residues = forget_report(engine)
        finally:
            engine.dispose()
    except DatabaseUnavailable as error:
        print(f"prefchat: error: {error}", file=sys.stderr)
        return 2
    print(f"Where a deleted user could still be, in {engine.url.render_as_string()} (docs/deployment.md, Forgetting):")
    for residue in residues:
        print(f"- {residue.place}: {residue.finding}\n    run: {residue.action}")
    return 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from . import evaluation

    return evaluation.main(args)


START_HERE = """start here:
  prefchat demo                                   the chat on the embedded default pack, at http://127.0.0.1:7860
  prefchat pack movielens --from ml-latest-small --out packs/ml
                                                  train a pack on your copy of MovieLens (a few minutes)
  prefchat serve --pack packs/ml                  the chat and the REST API of that pack
  prefchat info --pack default                    what a pack holds and how it was chosen
  prefchat COMMAND --help                         the options of a command
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prefchat", description="Onboard a new user in about ten pairwise questions.",
                                     epilog=START_HERE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"prefchat {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def training_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", required=True, help="directory to write the pack to")
        p.add_argument("--name", help="pack name (default: the output directory's name)")
        p.add_argument("--bases", type=int, default=None, help="K learned bases (default: chosen on validation users)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--holdout-users", type=float, default=0.2, help="share of users held out for testing (default 0.2)")
        p.add_argument("--vocabulary", default="styles", metavar="NAME|FILE",
                       help="descriptor vocabulary for items without tags: a built-in name (styles) or a file, one descriptor a line, optionally '~ measure' (see reward/naming.py)")
        p.add_argument("--answerable", choices=("auto", "known", "on-sight"), default="auto",
                       help="items judged only when known (films) or on sight (texts, jokes, dishes); "
                            "auto infers it from how the ratings spread over the items (default)")
        p.add_argument("--before", type=moment, metavar="DATE",
                       help="train on the ratings dated before DATE only (2015-01-01, UTC, or a timestamp); the input "
                            "stays whole, so that 'prefchat eval --split time --cut DATE' judges what came after")
        p.add_argument("--quiet", action="store_true", help="no progress bar")

    train = commands.add_parser("train", help="learn base rewards from items + ratings/pairs and save a pack")
    train.add_argument("--items", required=True, type=Path, help="items.csv: item_id,text[,title,tags,group]")
    train.add_argument("--ratings", type=Path, help="ratings.csv: user_id,item_id,rating[,timestamp]")
    train.add_argument("--pairs", type=Path, help="pairs.csv: user_id,item_a,item_b,choice (a|b|tie)")
    train.add_argument("--friends", type=Path, help="friends.csv: user_id,friend_id[,weight], directed (mutual when both "
                                                    "directions are listed): new users' social prior")
    training_options(train)
    train.set_defaults(run=_train)

    pack = commands.add_parser("pack", help="build a pack from a known data set layout")
    layouts = pack.add_subparsers(dest="layout", required=True, metavar="LAYOUT")
    movielens = layouts.add_parser("movielens", help="MovieLens (movies.csv, ratings.csv, tags.csv)")
    movielens.add_argument("--from", dest="source", required=True, type=Path, help="MovieLens directory")
    movielens.add_argument("--work", type=Path, help="where to write the converted items.csv/ratings.csv (default: next to --out)")
    training_options(movielens)
    movielens.set_defaults(run=_pack_movielens, friends=None)
    ciao = layouts.add_parser("ciao", help="Ciao product reviews with their trust graph (ratings.csv, trust.csv)")
    ciao.add_argument("--from", dest="source", required=True, type=Path, help="Ciao directory")
    ciao.add_argument("--work", type=Path, help="where to write the converted items/ratings/friends.csv (default: next to --out)")
    ciao.add_argument("--min-ratings", type=_positive, default=5,
                      help="keep the products rated by at least this many users (default 5: about 11,000 of 105,114)")
    training_options(ciao)
    ciao.set_defaults(run=_pack_ciao)
    default = layouts.add_parser("default", help="the embedded default pack, assistant styles (built from files inside prefchat)")
    default.add_argument("--out", help="directory to write the pack to (default: $PREFCHAT_HOME/packs/default)")
    default.add_argument("--quiet", action="store_true", help="no progress")
    default.set_defaults(run=_pack_default)

    evaluate = commands.add_parser("eval", help="benchmark question strategies on a pack's held-out test users")
    add_eval_arguments(evaluate)
    evaluate.set_defaults(run=_eval)

    from . import profiles

    profiles.add_arguments(commands)

    from .ui import commands as ui_commands

    serve = commands.add_parser("serve", help="serve the onboarding chat and the REST API for a pack")
    ui_commands.add_serve_arguments(serve)
    serve.set_defaults(run=ui_commands.serve)
    demo = commands.add_parser("demo", help="serve the chat on the embedded default pack and print its URL")
    ui_commands.add_demo_arguments(demo)
    demo.set_defaults(run=ui_commands.demo)
    from .ui import analyst_commands

    analyst = commands.add_parser("analyst", help="serve the analyst review of stored profiles (login required)")
    analyst_commands.add_arguments(analyst)
    analyst.set_defaults(run=analyst_commands.run)

    db = commands.add_parser("db", help="the database prefchat stores in")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="create the schema, or upgrade it to this version's "
                                                     "(run once per deploy, before starting the servers)")
    upgrade.add_argument("--db", help="SQLAlchemy URL or SQLite file (default: $PREFCHAT_DB, else prefchat.sqlite in $PREFCHAT_HOME)")
    upgrade.set_defaults(run=_db_upgrade)
    report = db_commands.add_parser("forget-report", help="where a deleted user could still be (dead rows, write-ahead "
                                                         "log, archives, replicas, logs, backups) and what clears it")
    report.add_argument("--db", help="SQLAlchemy URL or SQLite file (default: $PREFCHAT_DB, else prefchat.sqlite in $PREFCHAT_HOME)")
    report.set_defaults(run=_db_forget_report)

    info = commands.add_parser("info", help="describe a pack: size, settings chosen on validation users, axes")
    info.add_argument("--pack", required=True, help="pack directory, a pack name, or 'default'")
    info.add_argument("--json", action="store_true", help="the description as JSON, for scripts")
    info.set_defaults(run=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()  # a bad setting is one line, as any other bad input
        if args.command == "demo" or getattr(args, "pack", None) == DEFAULT:
            ensure_default_pack(settings)  # built here, by the command line, never by a server
        return args.run(args, settings)
    except (ValueError, OSError) as error:  # named, user-facing errors: no traceback
        print(f"prefchat: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
