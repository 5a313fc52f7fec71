"""Shared randomized numerical linear algebra; imports no estimator.

* :mod:`._embeddings` -- oblivious subspace embeddings (sparse sign, Gaussian,
  subsampled trigonometric transform) for sketching tall matrices;
* :mod:`._kernel_operator` -- kernel matrices applied by blocks of rows
  (:class:`KernelOperator`), kernels as ``KernelRidge`` takes them;
* :mod:`._lowrank` -- test matrices, the randomized range finder, the stable
  Nyström approximation and the one stabilising shift with its fallback;
* :mod:`._operators` -- the one operator interface (:class:`BlockOperator`,
  :class:`LeastSquaresOperator`) and :func:`as_block_operator`;
* :mod:`._pcg` -- block preconditioned conjugate gradients and the
  randomized Nyström preconditioner (fixed or adaptive rank);
* :mod:`._rpcholesky` -- randomly pivoted Cholesky (Nyström centres and
  column preconditioners from few kernel entries);
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
from ._kernel_operator import (
    KernelOperator,
    KernelTiles,
    PairwiseKernel,
    cross_matmat,
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
from ._pcg import (
    FactorPreconditioner,
    NystromPreconditioner,
    PCGResult,
    adaptive_nystrom_preconditioner,
    pcg,
)
from ._rpcholesky import RPCholesky, rpcholesky_preconditioner
from ._solvers import (
    SOLVERS,
    SketchPreconditioner,
    karlson_walden_estimate,
    refined_lstsq,
)

__all__ = [
    "EMBEDDINGS",
    "SOLVERS",
    "FactorPreconditioner",
    "BlockOperator",
    "FunctionOperator",
    "GaussianEmbedding",
    "KernelOperator",
    "KernelTiles",
    "LeastSquaresOperator",
    "NystromFactor",
    "NystromPreconditioner",
    "PCGResult",
    "PairwiseKernel",
    "RPCholesky",
    "SRTTEmbedding",
    "ShiftedRows",
    "SketchPreconditioner",
    "SparseSignEmbedding",
    "adaptive_nystrom_preconditioner",
    "as_block_operator",
    "cross_matmat",
    "exact_columns",
    "karlson_walden_estimate",
    "make_embedding",
    "nystrom_approximation",
    "nystrom_factor",
    "orthonormal_basis",
    "pcg",
    "psd_eigenpairs",
    "random_test_matrix",
    "randomized_range_finder",
    "refined_lstsq",
    "rpcholesky_preconditioner",
    "shifted_qr",
    "stabilising_shift",
    "symmetric_part",
]
