"""Type aliases of the public API (the package ships ``py.typed``)."""

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["ArrayLike", "MatrixLike", "OperatorLike", "RandomStateLike"]

#: Anything a ``random_state`` parameter accepts (see :mod:`sklearn_debias.utils`).
RandomStateLike = int | np.random.RandomState | np.random.Generator | None

#: A dense array, a scipy sparse matrix/array or a pandas DataFrame.
MatrixLike = ArrayLike | Any

#: A matrix known through its products: an array, a sparse matrix, a
#: ``scipy.sparse.linalg.LinearOperator``, a ``torch.Tensor`` or a callable
#: mapping a block ``X`` to ``A @ X``.
OperatorLike = ArrayLike | Any | Callable[[np.ndarray], np.ndarray]
