"""Shared randomized numerical linear algebra; imports no estimator.

* :mod:`._embeddings` -- oblivious subspace embeddings (sparse sign, Gaussian,
  subsampled trigonometric transform) for sketching tall matrices;
* :mod:`._lowrank` -- test matrices, the randomized range finder, the stable
  Nyström approximation and the one stabilising shift with its fallback;
* :mod:`._operators` -- the one operator interface (:class:`BlockOperator`,
  :class:`LeastSquaresOperator`) and :func:`as_block_operator`;
* :mod:`._solvers` -- sketch-preconditioned least-squares solvers with
  iterative refinement.

Random streams follow :mod:`sklearn_debias.utils`: results depend on
``random_state`` only, never on the number of threads.
"""

from ._embeddings import (
    EMBEDDINGS,
    GaussianEmbedding,
    ShiftedRows,
    SparseSignEmbedding,
    SRTTEmbedding,
    make_embedding,
)
from ._lowrank import (
    NystromFactor,
    nystrom_approximation,
    nystrom_factor,
    orthonormal_basis,
    psd_eigenpairs,
    random_test_matrix,
    randomized_range_finder,
    shifted_qr,
    stabilising_shift,
    symmetric_part,
)
from ._operators import (
    BlockOperator,
    FunctionOperator,
    LeastSquaresOperator,
    as_block_operator,
    exact_columns,
)
from ._solvers import (
    SOLVERS,
    SketchPreconditioner,
    karlson_walden_estimate,
    refined_lstsq,
)

__all__ = [
    "EMBEDDINGS",
    "SOLVERS",
    "BlockOperator",
    "FunctionOperator",
    "GaussianEmbedding",
    "LeastSquaresOperator",
    "NystromFactor",
    "SRTTEmbedding",
    "ShiftedRows",
    "SketchPreconditioner",
    "SparseSignEmbedding",
    "as_block_operator",
    "exact_columns",
    "karlson_walden_estimate",
    "make_embedding",
    "nystrom_approximation",
    "nystrom_factor",
    "orthonormal_basis",
    "psd_eigenpairs",
    "random_test_matrix",
    "randomized_range_finder",
    "refined_lstsq",
    "shifted_qr",
    "stabilising_shift",
    "symmetric_part",
]
