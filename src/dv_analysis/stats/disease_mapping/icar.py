"""The intrinsic CAR (ICAR) graph of the BYM2 and space-time models: adjacency, connected
components, scaling factors (Riebler et al. 2016; Freni-Sterrantino, Ventrucci & Rue 2018)
and the eigenbasis both engines sample in (``docs/risk_model.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


@dataclass
class Graph:
    """An adjacency graph prepared for the ICAR: edges, components, scaling factors."""

    n: int
    component: np.ndarray  # component id of each area (islands included)
    scale: np.ndarray  # scaling factor of each area's component (1 for islands)
    islands: np.ndarray  # bool: areas without neighbours
    components: list[np.ndarray] = field(default_factory=list)  # members of components of size ≥ 2
    basis: list[np.ndarray] = field(default_factory=list)  # per component: eigenvectors (columns)
    inverse_eigen: list[np.ndarray] = field(
        default_factory=list
    )  # per component: 1/(s·μ), 0 for the constant
    precision: sp.csr_matrix | None = (
        None  # the scaled ICAR precision s·(D − A), block by component
    )


def adjacency_matrix(neighbours: dict, ids) -> sp.csr_matrix:
    """Symmetric binary adjacency matrix from a neighbour dict, rows in the order of ``ids``.

    Parameters
    ----------
    neighbours : dict
        Area id → iterable of neighbouring ids (libpysal's ``W.neighbors`` or a GAL file).
    ids : sequence
        The areas in the order of the model's arrays.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``A[i, j] = 1`` where *i* and *j* are neighbours (made symmetric).
    """
    pos = {k: i for i, k in enumerate(ids)}
    rows, cols = [], []
    for k, nbs in neighbours.items():
        if k not in pos:
            raise ValueError(f"area {k!r} of the neighbours is not among the ids")
        for j in nbs:
            if j not in pos:
                raise ValueError(f"neighbour {j!r} of area {k!r} is not among the ids")
            rows.append(pos[k])
            cols.append(pos[j])
    n = len(pos)
    a = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    a = ((a + a.T) > 0).astype(float)
    a.setdiag(0)
    a.eliminate_zeros()
    return a.tocsr()


def scaling_factor(laplacian: sp.spmatrix, block: int = 512) -> float:
    """Scaling factor of a connected graph's ICAR, computed with sparse factorisations only.

    The geometric mean of the marginal variances under the sum-to-zero constraint, i.e. of
    the diagonal of the Laplacian's pseudo-inverse ``Q⁺`` (what R-INLA's ``inla.scale.model``
    computes with ``inla.qinv``). Grounding the last area gives a sparse positive-definite
    ``Q_r``; with ``M`` its inverse padded by a zero row and column and ``P = I − 11ᵀ/n``,
    ``Q⁺ = P M P``, so ``diag(Q⁺)_i = M_ii − 2 (M1)_i / n + 1ᵀM1 / n²``. ``M_ii`` comes from
    solves against blocks of unit vectors with one sparse LU factorisation: no dense
    ``n × n`` matrix is formed, and no small perturbation ``Q + εI`` is needed.

    Parameters
    ----------
    laplacian : scipy.sparse matrix
        ``Q = D − A`` of one connected component (two or more areas).
    block : int
        Right-hand sides solved at once (memory ``n × block`` floats).

    Returns
    -------
    float
        The scaling factor ``s``: the model uses ``φ / √s``, whose geometric mean marginal
        variance is 1, so that ``σ`` means the same on any graph.
    """
    from scipy.sparse.linalg import splu

    q = sp.csc_matrix(laplacian, dtype=float)
    n = q.shape[0]
    if n < 2:
        raise ValueError("a scaling factor needs a connected component of two or more areas")
    if connected_components(q, directed=False)[0] != 1:
        raise ValueError("the graph is not connected: each component needs its own scaling factor")
    lu = splu(q[: n - 1, : n - 1].tocsc())
    diag = np.zeros(n)
    for start in range(0, n - 1, block):
        stop = min(start + block, n - 1)
        rhs = np.zeros((n - 1, stop - start))
        rhs[np.arange(start, stop), np.arange(stop - start)] = 1.0
        diag[start:stop] = lu.solve(rhs)[np.arange(start, stop), np.arange(stop - start)]
    m1 = np.append(lu.solve(np.ones(n - 1)), 0.0)
    marginal = diag - 2.0 * m1 / n + m1.sum() / n**2
    return float(np.exp(np.mean(np.log(marginal))))


def _spectrum(laplacian: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvectors of a connected component's ICAR precision and 1/(s·μ) for each.

    The constant eigenvector (μ = 0, the direction the sum-to-zero constraint removes)
    gets 0. ``s`` is the component's scaling factor (:func:`scaling_factor`).
    """
    mu, v = np.linalg.eigh(laplacian)
    inv = np.zeros_like(mu)
    inv[1:] = 1.0 / mu[1:]  # mu[0] ≈ 0: the component's constant
    return v, inv / s


def prepare_graph(adjacency: sp.spmatrix) -> Graph:
    """Edges, connected components, islands, per-component scaling factors and spectra.

    Parameters
    ----------
    adjacency : scipy.sparse matrix
        Binary symmetric adjacency of all areas.

    Returns
    -------
    Graph
    """
    a = sp.csr_matrix(adjacency)
    n = a.shape[0]
    _, comp = connected_components(a, directed=False)
    degree = np.asarray(a.sum(1)).ravel()
    graph = Graph(n, comp, np.ones(n), degree == 0)
    rows, cols, vals = [], [], []
    for c in np.unique(comp):
        idx = np.flatnonzero(comp == c)
        if len(idx) < 2:
            continue
        sub = a[idx][:, idx]
        lap = sp.diags(np.asarray(sub.sum(1)).ravel()) - sub
        s = scaling_factor(lap)
        v, inv = _spectrum(lap.toarray(), s)
        graph.components.append(idx)
        graph.basis.append(v)
        graph.inverse_eigen.append(inv)
        graph.scale[idx] = s
        coo = sp.coo_matrix(lap)
        rows.append(idx[coo.row])
        cols.append(idx[coo.col])
        vals.append(s * coo.data)
    graph.precision = sp.csr_matrix(
        (
            np.concatenate(vals or [[]]),
            (np.concatenate(rows or [[]]).astype(int), np.concatenate(cols or [[]]).astype(int)),
        ),
        shape=(n, n),
    )
    return graph


def padded_size(n: int) -> int:
    """The size a graph of ``n`` areas is padded to: the next power of two, at least 64.

    The compiled sampler depends on the array sizes only, so graphs of similar size (the
    quarters of a city, or the counties of a national run) share one compilation.

    Parameters
    ----------
    n : int
        Areas of the graph.

    Returns
    -------
    int
        The padded size.

    Examples
    --------
    >>> padded_size(10), padded_size(456), padded_size(1024)
    (64, 512, 1024)
    """
    return max(64, 1 << (int(n) - 1).bit_length())


def dense_basis(graph: Graph, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One block-diagonal eigenbasis for the whole graph, padded to ``size`` areas.

    Parameters
    ----------
    graph : Graph
        The ICAR graph (:func:`prepare_graph`): components, their eigenbases and scalings.
    size : int
        Areas after padding (:func:`padded_size`).

    Returns
    -------
    tuple of numpy.ndarray
        The basis (``size × size``), 1/(s·μ) per column (0 for each component's constant),
        and whether each column is an island's (or padding's) own unit vector.
    """
    basis = np.eye(size)
    inv = np.zeros(size)
    alone = np.ones(size, dtype=bool)
    for idx, v, iv in zip(graph.components, graph.basis, graph.inverse_eigen, strict=True):
        basis[np.ix_(idx, idx)] = v
        inv[idx] = iv
        alone[idx] = False
    return basis, inv, alone


#: Added to the diagonal of the scaled ICAR precision so that it can be factored; the
#: sum-to-zero constraints remove the direction it makes proper (each component's constant),
#: and against the precision's other eigenvalues (0.01 and more on the city graphs) it is a
#: change of 1e-6 or less.
RIDGE = 1e-8


def banded_structure(graph: Graph):
    """The scaled ICAR precision in band form and the components' sum-to-zero constraints,
    for the nested-Laplace engines (:mod:`dv_analysis.stats.disease_mapping._inla.latent`,
    :mod:`dv_analysis.stats.disease_mapping.bym2_laplace`).

    Parameters
    ----------
    graph : Graph
        :func:`prepare_graph` of the areas.

    Returns
    -------
    tuple
        The :class:`~dv_analysis.stats.disease_mapping._inla.gmrf.BandedPattern` of ``s (D − A) + RIDGE·I`` (an
        island's own coordinate gets precision 1: it carries no spatial effect), and the
        ``(C, n)`` constraints, one row of ones per component of two or more areas.
    """
    from dv_analysis.stats.disease_mapping._inla.gmrf import BandedPattern

    q = graph.precision + sp.diags(np.where(graph.islands, 1.0, RIDGE))
    constraints = np.zeros((len(graph.components), graph.n))
    for k, idx in enumerate(graph.components):
        constraints[k, idx] = 1.0
    return BandedPattern.from_matrix(q), constraints
