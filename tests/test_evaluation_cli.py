"""``prefchat eval`` glue: flags, pack and ratings loading, the printed table and the JSON report."""

import argparse
import json

import numpy as np
import pytest

from prefchat import evaluation
from prefchat.cli import add_eval_arguments, converted_dir
from prefchat.reward.pack import Axis, Item, save_pack

N_ITEMS, N_BASES, N_LEARNED = 40, 4, 2
TRAIN, VALIDATION, TEST = ["t1", "t2", "t3"], ["v1", "v2"], ["h1", "h2", "h3", "h4"]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFCHAT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PREFCHAT_EMBEDDING_MODEL", "unused")
    return tmp_path


@pytest.fixture
def tiny(env, small_pack, embed):
    """A pack of 40 random items saved to disk, and ratings of 3 training, 2 validation and 4 test users."""
    rng = np.random.default_rng(0)
    pack = small_pack(
        [Item(f"m{i}", f"Movie {i}", f"Movie {i}, a film") for i in range(N_ITEMS)], n_learned=N_LEARNED,
        manifest={"name": "tiny", "split": {"train": TRAIN, "validation": VALIDATION, "test": TEST}},
        features=rng.normal(size=(N_ITEMS, N_BASES)),
        exposure=np.full(N_BASES, 0.1),
        popularity=rng.integers(0, 50, size=N_ITEMS).astype(float),
        descriptors=["funny", "dark"],
        descriptor_embeddings=embed(["funny", "dark"]),
        axes=[Axis(k, f"axis {k}", ("funny",), ("dark",)) for k in range(N_LEARNED)],
    )
    pack_dir = save_pack(pack, env / "home" / "packs" / "tiny")
    lines = ["user_id,item_id,rating"]
    for user in TRAIN + VALIDATION + TEST:
        for item in rng.choice(N_ITEMS, size=12, replace=False):
            lines.append(f"{user},m{item},{rng.integers(1, 6)}")
    ratings = env / "ratings.csv"
    ratings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return pack_dir, ratings


def parse(*argv):
    parser = argparse.ArgumentParser(prog="prefchat eval")
    add_eval_arguments(parser)
    return parser.parse_args(argv)


def strict_json(path):
    def refuse(constant):
        raise ValueError(f"{constant} is not valid JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


@pytest.mark.parametrize(
    ("protocol", "metrics"),
    [("prefer", {"pairwise_accuracy", "auc"}), ("watch", {f"{m}{c}" for m in ("recall@20", "ndcg@20", "long_tail_share@20", "tail_recall@20", "coverage@20")
                  for c in ("", "|niche")})],
)
def test_eval_prints_the_tables_and_writes_valid_json(tiny, env, capsys, protocol, metrics):
    pack_dir, ratings = tiny
    out = env / "out" / "report.json"
    args = parse("--pack", str(pack_dir), "--ratings", str(ratings), "--protocol", protocol, "--answers", "0,2,1",
                 "--strategies", "population,popularity,active,kway,oracle", "--seeds", "2", "--pool-size", "15",
                 "--json", str(out))
    assert evaluation.main(args) == 0
    report = strict_json(out)
    assert set(report) - {"popularity_bias", "cohorts", "per_person"} == {
        "dataset", "pack", "protocol", "seeds", "split", "cut", "users_without_both_sides", "pool_size", "kway_size",
        "n_test_users", "through_api", "merged_accounts", "answerable", "seconds", "results", "paired"}
    assert (report["split"], report["cut"], report["users_without_both_sides"]) == ("random", None, 0)
    assert (report["dataset"], report["protocol"], report["seeds"], report["pool_size"]) == ("tiny", protocol, 2, 15)
    assert report["n_test_users"] == len(TEST)  # training users' ratings are in the file but never evaluated
    assert {row["metric"] for row in report["results"]} == metrics
    assert len(report["results"]) == 5 * 3 * len(metrics)
    assert ("popularity_bias" in report) == ("per_person" in report) == (protocol == "watch")
    assert {(row["a"], row["b"]) for row in report["paired"]} == {("active", "population"), ("active", "popularity"), ("kway", "active")}
    printed = capsys.readouterr().out
    assert all(metric in printed for metric in metrics) and "kway - active" in printed and str(out) in printed


def test_merged_accounts_pair_the_test_users_and_report_each_member(tiny, env, capsys):
    """Four test users make two accounts a seed; each account's list is judged for its weaker and
    stronger member; every measure per person comes per strategy and answer count."""
    pack_dir, ratings = tiny
    out = env / "report.json"
    args = parse("--pack", str(pack_dir), "--ratings", str(ratings), "--protocol", "watch", "--answers", "0,2",
                 "--strategies", "popularity,active", "--seeds", "2", "--merged-accounts", "--json", str(out))
    assert evaluation.main(args) == 0
    report = strict_json(out)
    assert report["merged_accounts"] is True and report["n_test_users"] == 4  # 2 accounts x 2 seeds, each pairing its own
    rows = {(row["strategy"], row["answers"], row["metric"]): row["mean"] for row in report["results"]}
    for strategy in ("popularity", "active"):
        weaker, stronger = rows[strategy, 2, "weaker_recall@20"], rows[strategy, 2, "stronger_recall@20"]
        assert 0.0 <= weaker <= stronger <= 1.0 and 0.0 <= rows[strategy, 2, "both_hit@20"] <= 1.0
    assert {(row["strategy"], row["answers"]) for row in report["per_person"]} == {
        (s, n) for s in ("popularity", "active") for n in (0, 2)}
    assert "both_hit@20" in capsys.readouterr().out
    with pytest.raises(ValueError, match="watch protocol"):
        evaluation.main(parse("--pack", str(pack_dir), "--ratings", str(ratings), "--protocol", "prefer",
                              "--merged-accounts", "--json", str(out)))


def test_the_peers_are_fitted_on_training_users_and_chosen_on_validation_users(tiny, env):
    from prefchat.elicitation.peers import EASE_L2_GRID, IALS_GRID

    pack_dir, ratings = tiny
    out = env / "report.json"
    args = parse("--pack", str(pack_dir), "--ratings", str(ratings), "--protocol", "watch", "--answers", "0,2",
                 "--strategies", "active,ease,ials,ials-oracle", "--seeds", "1", "--json", str(out))
    assert evaluation.main(args) == 0
    report = strict_json(out)
    ials, ease = report["peers"]["ials"], report["peers"]["ease"]
    assert (ials["train_users"], ials["validation_users"]) == (len(TRAIN), len(VALIDATION))
    assert [row["setting"] for row in ials["selection"]] == [list(setting) for setting in IALS_GRID]
    assert [row["setting"] for row in ease["selection"]] == list(EASE_L2_GRID)
    best = max(row["recall@20"] for row in ials["selection"])
    assert ials["factors, alpha"] == next(row["setting"] for row in ials["selection"] if row["recall@20"] == best)
    assert {row["strategy"] for row in report["results"]} == {"active", "ease", "ials", "ials-oracle"}


def test_pack_by_name_and_user_cap(tiny, env):
    _, ratings = tiny
    out = env / "report.json"
    args = parse("--pack", "tiny", "--ratings", str(ratings), "--protocol", "prefer", "--answers", "0,1",
                 "--strategies", "population,random", "--seeds", "1", "--users", "2", "--json", str(out))
    assert evaluation.main(args) == 0
    assert strict_json(out)["n_test_users"] == 2


def test_unknown_item_id_is_a_clear_error(tiny, env):
    pack_dir, ratings = tiny
    ratings.write_text(ratings.read_text() + "h1,m999,4\n", encoding="utf-8")
    args = parse("--pack", str(pack_dir), "--ratings", str(ratings), "--protocol", "prefer", "--json", str(env / "r.json"))
    with pytest.raises(ValueError, match=r"'m999'.*pack 'tiny'"):
        evaluation.main(args)


def test_ratings_without_test_users_are_refused(tiny, env):
    pack_dir, ratings = tiny
    ratings.write_text("user_id,item_id,rating\nt1,m1,3\nt1,m2,4\n", encoding="utf-8")
    args = parse("--pack", str(pack_dir), "--ratings", str(ratings), "--protocol", "watch", "--json", str(env / "r.json"))
    with pytest.raises(ValueError, match="none of the 4 test users"):
        evaluation.main(args)


CUT = 500.0


@pytest.fixture
def dated(tiny, env):
    """The tiny pack and its ratings with a timestamp each (0 to 999), and the same pack trained before :data:`CUT`."""
    from dataclasses import replace

    from prefchat.reward.pack import load_pack

    pack_dir, ratings = tiny
    rng = np.random.default_rng(1)
    lines = ratings.read_text(encoding="utf-8").splitlines()
    lines = [lines[0] + ",timestamp"] + [f"{line},{rng.integers(0, 1000)}" for line in lines[1:]]
    ratings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pack = load_pack(pack_dir)
    cut_dir = save_pack(replace(pack, manifest={**pack.manifest, "data": {"before": CUT}}), env / "cut-pack")
    return pack_dir, cut_dir, ratings


def test_the_time_split_with_its_peers(dated, env, capsys):
    """``--split time``: recent popularity's window chosen on validation users, every strategy on the same tasks."""
    from prefchat.elicitation.recency import WINDOW_FRACTIONS

    pack_dir, _, ratings = dated
    out = env / "time.json"
    args = parse("--pack", str(pack_dir), "--ratings", str(ratings), "--protocol", "watch", "--answers", "0,2",
                 "--strategies", "popularity,recent-popularity,active,ease", "--split", "time", "--seeds", "1",
                 "--pool-size", "15", "--json", str(out))
    assert evaluation.main(args) == 0
    report = strict_json(out)
    assert (report["split"], report["cut"], report["n_test_users"]) == ("time", None, len(TEST))
    recent = report["peers"]["recent-popularity"]
    assert (recent["train_users"], recent["validation_users"]) == (len(TRAIN), len(VALIDATION))
    assert len(recent["selection"]) == len(WINDOW_FRACTIONS)
    best = max(row["recall@20"] for row in recent["selection"])
    assert recent["window"] == next(row["window"] for row in recent["selection"] if row["recall@20"] == best)
    assert ("active", "recent-popularity") in {(row["a"], row["b"]) for row in report["paired"]}
    assert "time split" in capsys.readouterr().out


def test_a_global_cut_needs_a_pack_trained_before_it_and_trains_on_nothing_after(dated, env):
    pack_dir, cut_dir, ratings = dated
    out = env / "cut.json"

    def cut_args(pack, cut="500", split="time"):
        return parse("--pack", str(pack), "--ratings", str(ratings), "--protocol", "watch", "--answers", "0,2",
                     "--strategies", "popularity,recent-popularity,active,ease", "--split", split, "--cut", cut,
                     "--seeds", "1", "--pool-size", "15", "--json", str(out))

    with pytest.raises(ValueError, match="trained on ratings of every date.*--before"):
        evaluation.main(cut_args(pack_dir))
    with pytest.raises(ValueError, match="dated up to 500, after the cut"):
        evaluation.main(cut_args(cut_dir, cut="400"))
    with pytest.raises(ValueError, match="--split time"):
        evaluation.main(cut_args(cut_dir, split="random"))
    assert evaluation.main(cut_args(cut_dir)) == 0
    report = strict_json(out)
    assert (report["split"], report["cut"]) == ("time", CUT)
    assert report["n_test_users"] + report["users_without_both_sides"] == len(TEST)
    from prefchat.reward.pack import load_pack

    train, times, tasks = evaluation.training_data(load_pack(cut_dir), ratings, split="time", cut=CUT)
    assert set(train) == set(TRAIN) and all((when < CUT).all() for when in times.values())
    assert sum(len(items) for items, _ in train.values()) == sum(int((w < CUT).sum()) for w in times.values()) > 0
    assert all(task.as_of == CUT and task.targets.relevant.size for task in tasks)


def test_the_time_split_without_timestamps_names_the_missing_column(tiny, env):
    pack_dir, ratings = tiny
    args = parse("--pack", str(pack_dir), "--ratings", str(ratings), "--protocol", "watch", "--split", "time",
                 "--json", str(env / "r.json"))
    with pytest.raises(ValueError, match=r"ratings.csv: --split time needs the ratings' dates.*'timestamp' column"):
        evaluation.main(args)
    args = parse("--pack", str(pack_dir), "--ratings", str(ratings), "--protocol", "watch",
                 "--strategies", "popularity,recent-popularity", "--json", str(env / "r.json"))
    with pytest.raises(ValueError, match="recent-popularity strategy needs the ratings' dates"):
        evaluation.main(args)


def test_a_date_is_read_as_utc_seconds_or_a_plain_timestamp():
    from prefchat.cli import moment

    assert moment("2015-01-01") == 1420070400.0
    assert moment("2015-01-01T01:00:00+01:00") == 1420070400.0
    assert moment("964982703") == 964982703.0


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [("--answers", "0,x", "'x'"), ("--answers", "2,-1", "-1"), ("--strategies", "active,smart", "'smart'"), ("--seeds", "0", "0"),
     ("--split", "weekly", "'weekly'"), ("--cut", "last year", "'last year'")],
)
def test_bad_flags_name_the_value(capsys, flag, value, says):
    with pytest.raises(SystemExit):
        parse("--pack", "p", "--ratings", "r.csv", "--protocol", "prefer", "--json", "o.json", flag, value)
    assert says in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["prefer", "watch"])
def test_real_movielens_pack(tmp_path, protocol, movielens_pack):
    out = tmp_path / "report.json"
    ratings = converted_dir(movielens_pack) / "ratings.csv"
    args = parse("--pack", str(movielens_pack), "--ratings", str(ratings), "--protocol", protocol, "--answers", "0,3",
                 "--strategies", "population,popularity,active,oracle", "--seeds", "1", "--users", "6", "--json", str(out))
    assert evaluation.main(args) == 0
    report = strict_json(out)
    assert report["n_test_users"] == 6
    # implicit: recall, ndcg, long-tail share, tail recall and coverage, for everyone and the niche quartile
    assert len(report["results"]) == 4 * 2 * (2 if protocol == "prefer" else 5 * 2)
    assert all(0.0 <= row["mean"] <= 1.0 for row in report["results"])


def test_eval_with_friends_scores_the_social_prior_on_test_users_with_friends(tiny, env, capsys, monkeypatch):
    from dataclasses import replace

    from prefchat.elicitation.known import KnownModel, components, population, spectral_bases, user_coefficients
    from prefchat.elicitation.social import SocialModel
    from prefchat.reward.pack import load_pack

    pack_dir, ratings = tiny
    pack = load_pack(pack_dir)
    rows = [line.split(",") for line in ratings.read_text().splitlines()[1:]]
    x = np.zeros((len(TRAIN), N_ITEMS))
    for user, item, _ in rows:
        if user in TRAIN:
            x[TRAIN.index(user), int(item[1:])] = 1.0
    emission, features = spectral_bases(*components(x), 2.0)
    known = KnownModel(features, emission, *population(x, emission), tau=1.0)
    manifest = {**pack.manifest, "data": {"n_ratings": len(rows)}, "answerable": "known"}
    social = SocialModel(tuple(TRAIN), user_coefficients(x, emission), trust=4.0, spread=0.0)
    pack_dir = save_pack(replace(pack, manifest=manifest, known=known, social=social), env / "social-pack")
    friends = env / "friends.csv"
    friends.write_text("user_id,friend_id\nh1,t1\nh2,t2\nh2,t3\nh3,v1\nh3,nobody\n", encoding="utf-8")
    out = env / "social.json"
    args = parse("--pack", str(pack_dir), "--ratings", str(ratings), "--protocol", "implicit", "--answers", "0,1,3",
                 "--seeds", "2", "--pool-size", "15", "--friends", str(friends), "--json", str(out))
    assert evaluation.main(args) == 0
    report = strict_json(out)
    assert report["n_test_users"] == 2 and report["social"]["test_users_with_friends"] == 2  # h3's friends are not training users
    assert report["social"]["trust"] == 4.0
    assert {row["strategy"] for row in report["results"]} == {"active", "social-active", "social-discovery", "friends-items"}
    assert {"recall@20", "anomalous_recall@20"} <= {row["metric"] for row in report["results"]}
    assert {(row["a"], row["b"]) for row in report["paired"]} == {
        ("social-active", "active"), ("social-active", "friends-items"), ("active", "friends-items"),
        ("social-discovery", "social-active"), ("social-discovery", "active")}
    assert "social-active - active" in capsys.readouterr().out
    # Dated ratings: each task is served at the moment its QUERY part ends, as the build's validation sessions
    # are (an item trend read at the data's end for everyone once made every test user's list the same).
    from prefchat.evaluation import load_dated_users
    from prefchat.social_evaluation import social_tasks

    social_pack = load_pack(pack_dir)

    def dated(ids):
        users, _ = load_dated_users(ratings, social_pack, ids)
        return users, {user: 86400.0 * np.arange(len(items), dtype=float) for user, (items, _) in users.items()}

    tasks = social_tasks(social_pack, friends, dated, 1)[0]
    assert tasks and all(task.as_of is not None and task.as_of < 86400.0 * N_ITEMS for task in tasks)
    undated = social_tasks(social_pack, friends, lambda ids: load_dated_users(ratings, social_pack, ids), 1)[0]
    assert [task.user_id for task in undated] == [task.user_id for task in tasks] and all(t.as_of is None for t in undated)
    # ... and its lists are scored at that moment, with friends and without (the tasks alone being dated was not enough).
    from prefchat import social_evaluation as module

    served_at: list[float | None] = []

    class Recorded(module.ServedScore):
        def __call__(self, posterior):
            served_at.append(self.as_of)
            return super().__call__(posterior)

    monkeypatch.setattr(module, "ServedScore", Recorded)
    evidence = [None] * len(tasks)
    module.social_evaluation(social_pack, tasks, evidence, [np.zeros(social_pack.n_items)] * len(tasks), [0, 1], 15)
    assert served_at == [task.as_of for task in tasks for _ in (0, 1)]
    # The questions are the pack's own, as its build's sessions ask them: 4-way on a pack that chose 4.
    sizes: list[int] = []
    asking = module.run_session

    def recorded_session(features, prior, policy, respondent, seed):
        session = asking(features, prior, policy, respondent, seed)
        sizes.extend(len(question.items) for question in session.questions)
        return session

    monkeypatch.setattr(module, "run_session", recorded_session)
    four_way = replace(social_pack, manifest={**social_pack.manifest,
                                              "hyperparameters": {**social_pack.hyperparameters, "question_size": 4}})
    module.social_evaluation(four_way, tasks, evidence, [np.zeros(social_pack.n_items)] * len(tasks), [0, 3], 15)
    assert sizes and set(sizes) == {4}
    args.pack = str(save_pack(replace(load_pack(pack_dir), social=None), env / "plain-pack"))
    with pytest.raises(ValueError, match="no social prior"):
        evaluation.main(args)


def test_a_hit_is_attributed_when_its_taste_belongs_to_the_member_whose_item_it_is():
    """A taste belongs to the member who gave most of its answers; a hit counts when that member holds it."""
    from prefchat.assistant.recommender import Persona, Ranked
    from prefchat.elicitation.evaluate import Task
    from prefchat.elicitation.respondents import SharedAccountTargets

    first, second = np.array([10, 11, 12]), np.array([20, 21])  # each member's held-out items
    targets = SharedAccountTargets(np.union1d(first, second), np.array([1, 2, 3]), np.array([], dtype=np.intp), 20,
                                   members=(first, second))
    task = Task("a+b", 0, None, targets)
    mine, theirs = Persona(0, (1, 2), 2 / 3, "horror"), Persona(1, (3,), 1 / 3, "comedy")
    answered = [(0, frozenset({1})), (0, frozenset({2})), (1, frozenset({3})), (1, frozenset())]

    def pick(item, persona):
        return Ranked(item, f"m{item}", "", 0.0, "", persona=persona)

    served = [pick(10, mine), pick(20, theirs), pick(11, theirs), pick(30, mine), pick(2, mine)]
    kept, hits, attributed = evaluation.persona_attribution(served, task, answered, lambda item_id: int(item_id[1:]))
    # 10 (first member's, horror: hers) and 20 (second's, comedy: his) are right; 11 is the first's but named comedy;
    # 30 is no one's; 2 is left out (known)
    assert (kept, hits, attributed) == (0.0, 3, 2)
    single = [pick(10, None), pick(20, None)]
    assert evaluation.persona_attribution(single, task, answered, lambda item_id: int(item_id[1:]))[:1].tolist() == [1.0]
    row = evaluation.persona_row("active", 10, np.array([[0.0, 3, 2], [1.0, 0, 0]]))
    assert row == {"strategy": "active", "answers": 10, "kept_one": 0.5, "persona_hits": 3, "attribution": 2 / 3}
    unread = evaluation.persona_row("active", 10, np.full((2, 3), np.nan))
    assert unread == {"strategy": "active", "answers": 10, "kept_one": None, "persona_hits": 0, "attribution": None}
