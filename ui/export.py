"""Stored profiles as flat records, written to CSV, JSON or Parquet.

Used by the analyst view's download route (built in memory, never written to disk) and by
``prefchat profiles export`` (written where the analyst asks). One record per profile
(a user's posterior for one pack name and version); every value is a scalar, so the three
formats hold the same table and a file read back with :func:`read_profiles` equals the
records written.

Schema
------
=================  =====  ==========================================================================
column             type   meaning
=================  =====  ==========================================================================
user_id            str    the user's opaque id
pack_name          str    the pack the profile was built with
pack_version       str
profile_version    int    1 on the first save of this profile, one more on each save
n_answers          int    answers the posterior is built from: the four kinds below plus n_feedback
n_a, n_b           int    "prefer the first" / "prefer the second" answers
n_tie              int    "both are fine" (a soft label of 1/2)
n_skip             int    "don't know either" (no likelihood term)
n_feedback         int    thumbs up/down and more/less like, given after onboarding
mean               str    JSON array of n_bases floats: the posterior mean, base k at position k
                          (the pack's learned axes, then its population coordinates)
sd                 str    JSON array of n_bases floats: posterior standard deviations, sqrt(diag cov)
axes               str    JSON array of n_bases names of the bases, in the order of mean and sd, each
                          saying which end is positive ("+ short and concise vs − long and detailed");
                          "[]" for a profile of a pack the export was not given
summary            str    the current semantic summary ("" when there is none)
summary_source     str    "generated", "edited" (by the user) or ""
confidence         str    the current summary's confidence: "low", "medium", "high", or "" where not
                          measured (no summary, or a pack without thresholds); see answer_fit
answer_fit         str    JSON number: the log Bayes factor (nats) of the user's answers under the
                          pack's descriptor model against answering at random, the evidence the
                          confidence level is read from (prefchat.elicitation.confidence); "" where
                          not measured
updated_at         str    when the profile was last saved, ISO 8601 in UTC
=================  =====  ==========================================================================

CSV cells are neutralised against formula injection (OWASP): a text cell starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return, or with ``'``, gets a leading ``'``, so that a
spreadsheet shows it as text instead of running it; :func:`read_profiles` removes exactly that
one ``'`` again, so the records read back equal the records written.

Arrays are JSON text (``json.loads(record["mean"])``) rather than one column per base, because
profiles of different packs have different numbers of bases. JSON files hold an array of the
records. Read any of the three with :func:`read_profiles`; with pandas directly, keep it from
guessing types: ``pd.read_csv(path, dtype=DTYPES, keep_default_na=False)``,
``pd.read_json(path, orient="records", dtype=False)``, ``pd.read_parquet(path)``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..assistant.summary import measured_confidence
from ..reward.pack import Pack
from ..storage import FEEDBACK_KINDS, PAIRWISE_CHOICES, ProfileRecord, Store
from .schemas import axis_names

__all__ = [
    "DTYPES", "FORMATS", "FORMULA_STARTS", "MEDIA_TYPES", "neutralise_cell", "profile_record", "profile_records",
    "profiles_bytes", "read_profiles", "signed_axis_names", "write_profiles",
]

FORMATS = ("csv", "json", "parquet")

DTYPES: dict[str, str] = {
    "user_id": "str",
    "pack_name": "str",
    "pack_version": "str",
    "profile_version": "int64",
    "n_answers": "int64",
    **{f"n_{choice}": "int64" for choice in PAIRWISE_CHOICES},
    "n_feedback": "int64",
    "mean": "str",
    "sd": "str",
    "axes": "str",
    "summary": "str",
    "summary_source": "str",
    "confidence": "str",
    "answer_fit": "str",
    "updated_at": "str",
}
"""Column -> pandas dtype, in the order of the columns."""


def signed_axis_names(pack: Pack) -> list[str]:
    """One name per base of ``pack`` (:func:`~prefchat.ui.schemas.axis_names`), its positive end marked:
    "long and detailed vs short and concise" -> "+ long and detailed vs − short and concise"."""
    return [f"+ {name.replace(' vs ', ' vs − ', 1)}" for name in axis_names(pack)]


def profile_record(profile: ProfileRecord, summary_text: str = "", summary_source: str = "",
                   axes: Sequence[str] = (), confidence: str | None = None, answer_fit: float | None = None) -> dict[str, Any]:
    """The flat record of one profile (see the module docstring for the schema)."""
    counts = profile.counts
    return {
        "user_id": profile.user_id,
        "pack_name": profile.pack_name,
        "pack_version": profile.pack_version,
        "profile_version": profile.version,
        "n_answers": profile.n_answers,
        **{f"n_{choice}": counts.get(choice, 0) for choice in PAIRWISE_CHOICES},
        "n_feedback": sum(counts.get(kind, 0) for kind in FEEDBACK_KINDS),
        "mean": json.dumps(profile.mean.tolist()),
        "sd": json.dumps(np.sqrt(np.diag(profile.cov)).tolist()),
        "axes": json.dumps(list(axes), ensure_ascii=False),
        "summary": summary_text,
        "summary_source": summary_source,
        "confidence": confidence or "",
        "answer_fit": "" if answer_fit is None else json.dumps(round(answer_fit, 4)),
        "updated_at": profile.updated_at.isoformat(),
    }


def profile_records(store: Store, profiles: Iterable[ProfileRecord], pack: Pack | None = None) -> list[dict[str, Any]]:
    """The flat records of ``profiles`` (e.g. ``store.list_profiles(...)``), with their current summaries,
    and, for the profiles of ``pack`` (its name and version), the names of their axes."""
    names = [] if pack is None else signed_axis_names(pack)
    records = []
    for profile in profiles:
        summary = store.current_summary(profile.user_id, profile.pack_name)
        text, source = ("", "") if summary is None else (summary.text, summary.source)
        confidence, fit = (None, None) if summary is None else measured_confidence(summary.structured)
        ours = pack is not None and (profile.pack_name, profile.pack_version) == (pack.name, pack.version)
        records.append(profile_record(profile, text, source, names if ours else (), confidence, fit))
    return records


def _format(path: Path, format: str | None) -> str:
    format = (format or path.suffix.lstrip(".")).lower()
    if format not in FORMATS:
        raise ValueError(f"export format {format!r} (of {str(path)!r}) is not one of {FORMATS}")
    return format


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
"""First characters of a CSV text cell that get a leading ``'`` (``'`` itself, so that reading back is exact)."""


def neutralise_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` if it is a str a spreadsheet would take as a formula."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _restore_cell(value: Any) -> Any:
    return value[1:] if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def _frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(list(records), columns=list(DTYPES)).astype(DTYPES)


MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json", "parquet": "application/vnd.apache.parquet"}
"""The HTTP media type of each format (the analyst's download route)."""


def profiles_bytes(records: Iterable[dict[str, Any]], format: str) -> bytes:
    """Profile records as the bytes of a csv, json or parquet file, built in memory."""
    format = _format(Path(f"profiles.{format}"), format)
    if format == "json":
        rows = [{column: record[column] for column in DTYPES} for record in records]
        return json.dumps(rows, indent=2, ensure_ascii=False).encode("utf-8")
    if format == "csv":
        # Quote every text field: a bare carriage return in a summary is otherwise left unquoted
        # and read back as a line break.
        frame = _frame(records)
        text = [column for column, dtype in DTYPES.items() if dtype == "str"]
        frame[text] = frame[text].map(neutralise_cell)
        return frame.to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")
    buffer = io.BytesIO()
    _frame(records).to_parquet(buffer, index=False)
    return buffer.getvalue()


def write_profiles(records: Iterable[dict[str, Any]], path: str | Path, format: str | None = None) -> Path:
    """Write profile records to ``path`` as csv, json or parquet (default: from the file's suffix)."""
    path = Path(path)
    format = _format(path, format)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(profiles_bytes(records, format))
    return path


def read_profiles(path: str | Path, format: str | None = None) -> pd.DataFrame:
    """A file written by :func:`write_profiles`, as a DataFrame with the schema's columns and dtypes."""
    path = Path(path)
    format = _format(path, format)
    if format == "csv":
        frame = pd.read_csv(path, dtype=DTYPES, keep_default_na=False, encoding="utf-8")
        text = [column for column, dtype in DTYPES.items() if dtype == "str"]
        frame[text] = frame[text].map(_restore_cell)
    elif format == "json":
        frame = pd.read_json(path, orient="records", dtype=False, encoding="utf-8")
    else:
        frame = pd.read_parquet(path)
    return frame.reindex(columns=list(DTYPES)).astype(DTYPES)
