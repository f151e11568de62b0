r"""Collaborative-filtering peers of the benchmark: EASE and iALS, folded in from what a user revealed.

A peer learns item-item (EASE) or item-factor (iALS) structure from the training users' implicit
matrix :math:`X \in \{0, 1\}^{n_u \times n_i}` (an item a user rated is 1) and scores the catalog
for a new user from a set of items the user is known to know: a 0/1 row :math:`x`. The benchmark
feeds a peer exactly what the same answers reveal (:func:`~prefchat.elicitation.onboarding.known_items`
of an ``active`` session) and, as its ceiling, the whole QUERY half (see
:mod:`~prefchat.elicitation.evaluate`).

EASE (Steck 2019, "Embarrassingly shallow autoencoders for sparse data", eq. 8):

.. math:: \hat B = I - P\, \mathrm{diag}(1 / \mathrm{diag}\, P), \qquad
          P = (X^\top X + \lambda I)^{-1}, \qquad \mathrm{diag}\, \hat B = 0,

and the scores of a user are :math:`x^\top \hat B`. With fewer users than items, :math:`P` comes
from the Woodbury identity without forming any :math:`n_i \times n_i` matrix,

.. math:: P = \tfrac{1}{\lambda} \big(I - X^\top (X X^\top + \lambda I)^{-1} X\big),

so :math:`x^\top \hat B = x - (x^\top P) \oslash \mathrm{diag}\, P`, exactly.

iALS (Hu, Koren & Volinsky 2008), fitted by the ``implicit`` library (its
``AlternatingLeastSquares``, exact Cholesky solves): confidence :math:`c_{ui} = 1 + \alpha x_{ui}`,
preference :math:`x_{ui}`, alternating ridge solves of

.. math:: \min_{U, V} \sum_{u, i} c_{ui} (x_{ui} - u_u^\top v_i)^2 + \lambda (\|U\|^2 + \|V\|^2),

and a new user folded in by the same user step with :math:`V` fixed (eq. 4; ``recalculate_user``):
:math:`u = (V^\top V + \alpha V_x^\top V_x + \lambda I)^{-1} (1 + \alpha) V_x^\top 1`.
``implicit`` weighs an observed entry by the value it is given, so it is given :math:`1 + \alpha`.

numpy, scipy and ``implicit`` (CPU only): the caller (:mod:`prefchat.evaluation`) reads the
training users' rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse import csr_matrix
from threadpoolctl import threadpool_limits

from .metrics import recall_at_k, top_k

__all__ = [
    "EASE_L2_GRID",
    "IALS_GRID",
    "Ease",
    "Ials",
    "Peer",
    "choose_peer",
    "implicit_matrix",
]

EASE_L2_GRID = (10.0, 25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)
"""L2 values :func:`choose_peer` tries for EASE (Steck reports optima of a few hundred on MovieLens-scale data)."""
IALS_GRID = tuple((factors, alpha) for factors in (32, 64) for alpha in (2.0, 8.0, 32.0))
"""(factors, alpha) pairs :func:`choose_peer` tries for iALS, with ``l2`` fixed at :data:`IALS_L2`."""
IALS_L2 = 10.0
IALS_ITERATIONS = 12


class Peer:
    """A fold-in scorer: ``scores(known) -> (n_items,)`` from the items a user is known to know."""

    n_items: int

    def scores(self, known: Iterable[int]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


def implicit_matrix(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> csr_matrix:
    """The 0/1 user x item matrix of who rated what (duplicates count once)."""
    data = np.ones(len(users))
    matrix = csr_matrix((data, (users, items)), shape=(n_users, n_items))
    matrix.data[:] = 1.0
    return matrix


def _row(known: Iterable[int], n_items: int) -> np.ndarray:
    index = np.fromiter((int(i) for i in known), dtype=np.intp)
    if index.size and (index.min() < 0 or index.max() >= n_items):
        raise ValueError(f"known item index outside 0..{n_items - 1}: {index.min() if index.min() < 0 else index.max()}")
    return index


@dataclass(frozen=True, eq=False)
class Ease(Peer):
    r"""EASE fitted on a 0/1 matrix (see the module docstring); ``l2`` is :math:`\lambda`.

    Stores :math:`X` (dense, n_users x n_items), :math:`(X X^\top + \lambda I)^{-1}` and
    :math:`\mathrm{diag}\, P`; a user's scores cost :math:`O(n_u n_i)`.
    """

    matrix: np.ndarray
    inner: np.ndarray
    diag: np.ndarray
    l2: float

    @classmethod
    def fit(cls, matrix, l2: float) -> Ease:
        if not l2 > 0:
            raise ValueError(f"EASE needs l2 > 0, got {l2!r}")
        x = np.asarray(matrix.todense() if hasattr(matrix, "todense") else matrix, dtype=np.float64)
        gram = x @ x.T + l2 * np.eye(len(x))
        inner = cho_solve(cho_factor(gram), np.eye(len(x)))  # (X X^T + lambda I)^-1
        # diag P = (1 - diag(X^T inner X)) / lambda  (Woodbury)
        diag = (1.0 - ((inner @ x) * x).sum(0)) / l2
        return cls(x, inner, diag, float(l2))

    @property
    def n_items(self) -> int:  # type: ignore[override]
        return self.matrix.shape[1]

    def scores(self, known: Iterable[int]) -> np.ndarray:
        r""":math:`x^\top \hat B = x - (x^\top P) \oslash \mathrm{diag}\, P` (Steck 2019, eq. 8)."""
        index = _row(known, self.n_items)
        x = np.zeros(self.n_items)
        x[index] = 1.0
        through_users = self.inner @ self.matrix[:, index].sum(1)  # (X X^T + l I)^-1 X x
        xp = (x - self.matrix.T @ through_users) / self.l2            # x^T P
        return x - xp / self.diag

    def weights(self) -> np.ndarray:
        """The full :math:`\\hat B` (n_items x n_items): for tests on small data only."""
        p = (np.eye(self.n_items) - self.matrix.T @ self.inner @ self.matrix) / self.l2
        return np.eye(self.n_items) - p / np.diag(p)[None, :]


@dataclass(frozen=True, eq=False)
class Ials(Peer):
    """iALS fitted by ``implicit`` (module docstring); ``model`` holds the item factors and the settings."""

    model: AlternatingLeastSquares

    @classmethod
    def fit(cls, matrix, factors: int, alpha: float, l2: float = IALS_L2, iterations: int = IALS_ITERATIONS,
            seed: int = 0) -> Ials:
        if factors < 1 or alpha <= 0 or l2 <= 0:
            raise ValueError(f"iALS needs factors >= 1, alpha > 0 and l2 > 0; got {factors}, {alpha}, {l2}")
        # implicit's alpha scales the matrix it is given: 1 + alpha on a 0/1 matrix is c = 1 + alpha x.
        # One thread and single-threaded BLAS: the row solves are small, and the benchmark runs in --jobs processes.
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(factors=factors, regularization=l2, alpha=1.0 + alpha, dtype=np.float64,
                                            use_cg=False, iterations=iterations, num_threads=1, random_state=seed)
            model.fit(csr_matrix(matrix, dtype=np.float64), show_progress=False)
        return cls(model)

    @property
    def n_items(self) -> int:  # type: ignore[override]
        return self.model.item_factors.shape[0]

    def scores(self, known: Iterable[int]) -> np.ndarray:
        """Fold-in (Hu et al. 2008, eq. 4 with the item factors fixed: ``recalculate_user``), then :math:`V u`."""
        index = _row(known, self.n_items)
        row = csr_matrix((np.ones(index.size), (np.zeros(index.size, dtype=np.intp), index)), shape=(1, self.n_items))
        with threadpool_limits(1, "blas"):
            user = self.model.recalculate_user(0, row)
        return self.model.item_factors @ np.ravel(user)


def choose_peer(candidates: Sequence[tuple[object, Peer]],
                users: Sequence[tuple[np.ndarray, np.ndarray]], k: int = 20) -> tuple[int, list[dict]]:
    """The candidate peer with the best mean Recall@k on validation users given their whole QUERY half.

    Parameters
    ----------
    candidates : (setting, fitted peer) pairs, e.g. ``(l2, Ease.fit(X, l2))``
    users : (query items, eval items) of each validation user; the catalog is ranked without the
        query items
    k : the cut-off

    Returns
    -------
    index of the best candidate (the first among equals), and one ``{"setting", "recall@k"}`` per candidate
    """
    if not candidates or not users:
        raise ValueError("choose_peer needs candidates and validation users")
    table = []
    for setting, peer in candidates:
        recalls = [recall_at_k(top_k(peer.scores(query), k, exclude=query), held_out, k) for query, held_out in users]
        table.append({"setting": setting, f"recall@{k}": float(np.nanmean(recalls))})
    best = max(range(len(table)), key=lambda c: (table[c][f"recall@{k}"], -c))
    return best, table
