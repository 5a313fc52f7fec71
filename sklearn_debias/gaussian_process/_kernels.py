"""A tensor-product Matérn kernel: one one-dimensional Matérn factor per feature.

sklearn's ``Matern`` is a function of the Euclidean distance, so its sample
paths are rough only at isolated points. Many simulators are instead rough
along coordinate hyperplanes: a threshold, a switch, a max or an absolute
value in one input (the Genz "continuous" family exp(-sum a_i |x_i - u_i|)
is the textbook case). The product of one-dimensional Matérn kernels,

    k(x, y) = prod_i g_nu(|x_i - y_i| / l_i),

has exactly that structure: its reproducing kernel Hilbert space is the
tensor product of one-dimensional Sobolev spaces (functions of dominating
mixed smoothness, the setting of quasi-Monte Carlo theory), and a kink
along x_i = u_i costs it one kernel section, not an infinite series.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.gaussian_process.kernels import (
    RBF,
    ConstantKernel,
    Hyperparameter,
    Kernel,
    NormalizedKernelMixin,
    Product,
    StationaryKernelMixin,
    Sum,
    WhiteKernel,
)

from ..utils import prediction_threads, run_blocks
from ..utils._typing import ArrayLike


# Each one-dimensional factor is g(r) = p(t) exp(-t) with t = c r, r the
# scaled distance |x - y| / l; nu -> (c, p, h) with h(t) = d log g / d log l
# (d r / d log l = -r). The product over features is then
# exp(-sum_i t_i) prod_i p(t_i): one exponential of a weighted L1 distance.
# p works in place on its argument (a fresh array); h(t, out) writes into the
# buffer out (not t) and returns it, or returns t itself for nu = 1/2. Both
# run in place: on this project's machine numpy's t**2 / (1 + t) took 1.6 ms
# for 5 x 205 x 205 entries, the same in place 0.5 ms (every fresh
# multi-100-kB array is page-faulted anew there).
def _p15(t):
    t += 1.0
    return t


def _p25(t):
    u = t / 3.0
    u += 1.0
    u *= t
    u += 1.0
    return u


def _h05(t, out):
    return t


def _h15(t, out):
    # t^2 / (1 + t)
    np.add(t, 1.0, out=out)
    np.divide(t, out, out=out)
    out *= t
    return out


def _h25(t, out):
    # t^2 (1 + t) / (3 + t (3 + t))
    np.add(t, 3.0, out=out)
    out *= t
    out += 3.0
    np.divide(t, out, out=out)
    out *= t
    out *= t + 1.0
    return out


_FACTORS = {
    0.5: (1.0, None, _h05),
    1.5: (np.sqrt(3.0), _p15, _h15),
    2.5: (np.sqrt(5.0), _p25, _h25),
}

# Elements of the (features, n, n) blocks of the gradient code: 512 kB, so
# that no block is a fresh multi-MB array (on this project's machine every
# such allocation is page-faulted anew: the value and gradient contraction of
# 205 points in d = 5 took 3.7 ms with 8 MB blocks, 1.8 ms one feature at a
# time).
_BLOCK_ELEMENTS = 2**16


def _feature_blocks(n_pairs, n_features):
    """Slices of features whose (n_pairs, features) blocks fit the budget."""
    step = max(1, _BLOCK_ELEMENTS // max(n_pairs, 1))
    return [slice(i, i + step) for i in range(0, n_features, step)]


def _differences(left, right, out=None):
    """``s_a - t_b`` for every pair, as the product of ``[s, 1]`` and ``[1, -t]``.

    ``left`` holds ``[s_a, 1]`` in its rows and ``right`` ``[1, -t_b]`` in its
    columns (stacked over leading axes for several features). Each entry is
    ``s_a - t_b`` rounded once, bit for bit the subtraction, and a matrix
    product forms it several times faster than numpy's broadcasting (1.3 ms
    against 0.32 ms for five features of 639 x 205 pairs, one thread).
    """
    return np.matmul(left, right, out=out)


class TensorProductMatern(StationaryKernelMixin, NormalizedKernelMixin, Kernel):
    """Product over features of one-dimensional Matérn kernels.

    ``k(x, y) = prod_i g_nu(|x_i - y_i| / l_i)`` with ``g_{1/2}(r) = exp(-r)``,
    ``g_{3/2}(r) = (1 + sqrt(3) r) exp(-sqrt(3) r)`` and
    ``g_{5/2}(r) = (1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r)``. With
    ``nu=0.5`` it is the Laplace kernel of the weighted L1 distance.

    Unlike sklearn's isotropic-distance ``Matern``, its sample paths are
    non-smooth along coordinate hyperplanes, which suits simulators with a
    threshold, a switch or an absolute value in one input; a Gaussian
    process with ``nu=0.5`` fits ``exp(-sum_i a_i |x_i - u_i|)`` with a
    single kernel section. Use it alone, or add it to a smooth kernel and let
    the marginal likelihood weigh the two.

    Parameters
    ----------
    length_scale : float or array-like of shape (n_features,), default=1.0
        One length scale for all features, or one per feature (ARD).
    length_scale_bounds : pair of floats >= 0 or "fixed", default=(1e-5, 1e5)
        Bounds of the length scales for hyperparameter optimisation.
    nu : {0.5, 1.5, 2.5}, default=0.5
        Smoothness of each one-dimensional factor. Fixed, not optimised.

    See Also
    --------
    sklearn.gaussian_process.kernels.Matern : the Euclidean-distance Matérn.

    Examples
    --------
    A kink along each axis, fitted from 60 points, against sklearn's
    Euclidean Laplace kernel (``Matern`` with ``nu=0.5``):

    >>> import numpy as np
    >>> from sklearn.gaussian_process import GaussianProcessRegressor
    >>> from sklearn.gaussian_process.kernels import ConstantKernel, Matern
    >>> from sklearn_debias.gaussian_process import TensorProductMatern
    >>> def f(X):
    ...     return np.exp(-3 * np.abs(X[:, 0] - 0.5) - 2 * np.abs(X[:, 1] - 0.3))
    >>> rng = np.random.default_rng(0)
    >>> X, X_test = rng.uniform(size=(60, 2)), rng.uniform(size=(1000, 2))
    >>> def relative_error(kernel):
    ...     gp = GaussianProcessRegressor(ConstantKernel() * kernel, normalize_y=True)
    ...     error = gp.fit(X, f(X)).predict(X_test) - f(X_test)
    ...     return np.sqrt(np.mean(error**2)) / np.std(f(X_test))
    >>> print(f"{relative_error(TensorProductMatern([1.0, 1.0])):.2f}")
    0.09
    >>> print(f"{relative_error(Matern([1.0, 1.0], nu=0.5)):.2f}")
    0.13
    """

    def __init__(
        self,
        length_scale: float | ArrayLike = 1.0,
        length_scale_bounds: tuple[float, float] | str = (1e-5, 1e5),
        nu: float = 0.5,
    ) -> None:
        self.length_scale = length_scale
        self.length_scale_bounds = length_scale_bounds
        self.nu = nu

    @property
    def anisotropic(self) -> bool:
        return np.iterable(self.length_scale) and len(self.length_scale) > 1

    @property
    def hyperparameter_length_scale(self) -> Hyperparameter:
        if self.anisotropic:
            return Hyperparameter(
                "length_scale",
                "numeric",
                self.length_scale_bounds,
                len(self.length_scale),
            )
        return Hyperparameter("length_scale", "numeric", self.length_scale_bounds)

    def _factor_functions(self):
        try:
            return _FACTORS[float(self.nu)]
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"nu must be one of {sorted(_FACTORS)}; got {self.nu!r}"
            ) from None

    def _scaled(self, X):
        """``X`` times ``c / l`` per feature: the factors' arguments ``t``."""
        c, p, h = self._factor_functions()
        X = np.atleast_2d(X)
        length_scale = np.squeeze(np.asarray(self.length_scale, dtype=float))
        if length_scale.ndim == 1 and length_scale.shape[0] != X.shape[1]:
            raise ValueError(
                f"length_scale has {length_scale.shape[0]} entries but X has "
                f"{X.shape[1]} features"
            )
        return X * (c / np.broadcast_to(length_scale, (X.shape[1],))), p, h

    def _value(self, S, T):
        """``k`` between rows of the scaled inputs ``S`` and ``T``."""
        _, p, _ = self._factor_functions()
        K = cdist(S, T, "cityblock")
        np.negative(K, out=K)
        np.exp(K, out=K)
        if p is not None:
            # One feature at a time: memory (n_X, n_Y), not (n_X, n_Y, d).
            t = np.empty_like(K)
            left, right = np.ones((S.shape[0], 2)), np.ones((2, T.shape[0]))
            for i in range(S.shape[1]):
                left[:, 0] = S[:, i]
                np.negative(T[:, i], out=right[1])
                np.abs(_differences(left, right, t), out=t)
                K *= p(t)
        return K

    def __call__(
        self, X: ArrayLike, Y: ArrayLike | None = None, eval_gradient: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Return ``k(X, Y)`` and, optionally, its gradient.

        Parameters
        ----------
        X : ndarray of shape (n_samples_X, n_features)
        Y : ndarray of shape (n_samples_Y, n_features), default=None
            ``None`` evaluates ``k(X, X)``.
        eval_gradient : bool, default=False
            Also return the gradient with respect to the log length scales
            (only when ``Y`` is ``None``).

        Returns
        -------
        K : ndarray of shape (n_samples_X, n_samples_Y)
        K_gradient : ndarray of shape (n_samples_X, n_samples_X, n_dims)
            Only when ``eval_gradient`` is true.
        """
        S, _, h = self._scaled(X)
        if Y is not None and eval_gradient:
            raise ValueError("Gradient can only be evaluated when Y is None.")
        T = S if Y is None else self._scaled(Y)[0]
        K = self._value(S, T)
        if not eval_gradient:
            return K
        if self.hyperparameter_length_scale.fixed:
            return K, np.empty((S.shape[0], S.shape[0], 0))
        T = np.abs(S[:, None, :] - S[None, :, :])
        D = K[..., None] * h(T, np.empty_like(T))
        if not self.anisotropic:
            D = D.sum(axis=-1, keepdims=True)
        return K, D

    def _value_and_vjp(self, X):
        """``k(X, X)`` and ``W -> sum_ab W_ab dk_ab / dtheta`` for symmetric W.

        The contraction of the gradient that the marginal likelihood needs.
        The (n_features, n, n) array of scaled distances -- features first,
        so that every reduction runs over contiguous (n, n) slabs -- is
        formed once, for the value and the gradient, when it fits
        ``_BLOCK_ELEMENTS``; otherwise the gradient takes the features in
        blocks of that size, in two buffers reused from block to block.
        """
        S, p, h = self._scaled(X)
        n, d = S.shape
        St = np.ascontiguousarray(S.T)
        fixed = self.hyperparameter_length_scale.fixed

        def distances(block, out=None):
            Sb = St[block]
            left = np.stack([Sb, np.ones_like(Sb)], axis=-1)
            right = np.stack([np.ones_like(Sb), -Sb], axis=1)
            D = _differences(left, right, out)
            return np.abs(D, out=D)

        if fixed or n * n * d > _BLOCK_ELEMENTS:
            K = self._value(S, S)
            T = None
        else:
            T = distances(slice(None))
            K = T.sum(axis=0)
            np.negative(K, out=K)
            np.exp(K, out=K)
            if p is not None:
                K *= np.prod(p(T.copy()), axis=0)
        if fixed:
            return K, lambda W: np.empty(0)

        def vjp(W):
            M = (W * K).ravel()
            if T is not None:
                grad = h(T, np.empty_like(T)).reshape(d, n * n) @ M
            else:
                # Two buffers for all the blocks: distances, then h of them.
                blocks = _feature_blocks(n * n, d)
                size = len(range(*blocks[0].indices(d)))
                D, H = np.empty((2, size, n, n))
                grad = np.empty(d)
                for block in blocks:
                    k = len(range(*block.indices(d)))
                    Hb = h(distances(block, D[:k]), H[:k])
                    grad[block] = Hb.reshape(k, n * n) @ M
            return grad if self.anisotropic else grad.sum(keepdims=True)

        return K, vjp

    def __repr__(self) -> str:
        ls = np.ravel(self.length_scale)
        ls_text = (
            "[" + ", ".join(f"{v:.3g}" for v in ls) + "]"
            if self.anisotropic
            else f"{ls[0]:.3g}"
        )
        return f"{type(self).__name__}(length_scale={ls_text}, nu={self.nu:g})"


def _rbf_value_and_vjp(kernel, X):
    """sklearn's ``RBF``: ``k(X, X)`` and its gradient contraction."""
    length_scale = np.asarray(kernel.length_scale, dtype=float)
    S = X / length_scale
    S = S - S.mean(axis=0)  # distances are unchanged; products better scaled
    K = cdist(S, S, "sqeuclidean")
    K *= -0.5
    np.exp(K, out=K)
    if kernel.hyperparameter_length_scale.fixed:
        return K, lambda W: np.empty(0)

    def vjp(W):
        # sum_ab M_ab (s_ai - s_bi)^2 = 2 sum_a (M 1)_a s_ai^2 - 2 s_i' M s_i
        # for symmetric M, with dk / dlog l_i = k (s_ai - s_bi)^2.
        M = W * K
        grad = 2.0 * (M.sum(axis=1) @ S**2) - 2.0 * np.einsum("ai,ai->i", S, M @ S)
        return grad if kernel.anisotropic else grad.sum(keepdims=True)

    return K, vjp


def _kernel_value_and_vjp(kernel, X):
    """``K = kernel(X)`` and ``vjp: W -> sum_ab W_ab dK_ab / dtheta``.

    ``W`` must be symmetric (in the marginal likelihood it is
    ``alpha alpha' - K^-1``). Sums, products, constants, white noise, RBF
    and :class:`TensorProductMatern` are contracted without forming the
    (n, n, n_dims) gradient; any other kernel falls back to its own
    ``eval_gradient``. The entries follow ``kernel.theta``.
    """
    if isinstance(kernel, Product):
        for first, (const, other) in enumerate(
            ((kernel.k1, kernel.k2), (kernel.k2, kernel.k1))
        ):
            if type(const) is ConstantKernel and np.ndim(const.constant_value) == 0:
                return _scaled_value_and_vjp(const, other, X, first == 0)
    if isinstance(kernel, Sum | Product):
        K1, vjp1 = _kernel_value_and_vjp(kernel.k1, X)
        K2, vjp2 = _kernel_value_and_vjp(kernel.k2, X)
        if isinstance(kernel, Sum):
            return K1 + K2, lambda W: np.concatenate([vjp1(W), vjp2(W)])
        return K1 * K2, lambda W: np.concatenate([vjp1(W * K2), vjp2(W * K1)])
    if type(kernel) is ConstantKernel and np.ndim(kernel.constant_value) == 0:
        value = float(kernel.constant_value)
        fixed = kernel.hyperparameter_constant_value.fixed
        K = np.full((X.shape[0], X.shape[0]), value)
        return K, lambda W: np.empty(0) if fixed else np.array([value * W.sum()])
    if type(kernel) is WhiteKernel and np.ndim(kernel.noise_level) == 0:
        value = float(kernel.noise_level)
        fixed = kernel.hyperparameter_noise_level.fixed
        K = value * np.eye(X.shape[0])
        return K, lambda W: np.empty(0) if fixed else np.array([value * np.trace(W)])
    if type(kernel) is RBF:
        return _rbf_value_and_vjp(kernel, X)
    if isinstance(kernel, TensorProductMatern):
        return kernel._value_and_vjp(X)
    K, dK = kernel(X, eval_gradient=True)
    return K, lambda W: W.ravel() @ dK.reshape(-1, dK.shape[-1])


def _scaled_value_and_vjp(const, other, X, const_first):
    """``c * other(X)`` for a scalar ``ConstantKernel`` c, without an n x n
    array of c: the gradient in log c is ``sum(W * K)``, that of ``other``
    ``c`` times its own (every contraction is linear in ``W``)."""
    value = float(const.constant_value)
    K_other, vjp_other = _kernel_value_and_vjp(other, X)
    K = K_other * value
    fixed = const.hyperparameter_constant_value.fixed

    def vjp(W):
        grad_c = np.empty(0) if fixed else np.array([value * np.vdot(W, K_other)])
        grad_other = value * vjp_other(W)
        parts = (grad_c, grad_other) if const_first else (grad_other, grad_c)
        return np.concatenate(parts)

    return K, vjp


def _kernel_cross(kernel, X, Y):
    """``kernel(X, Y)``, with sums and constant factors applied in place."""
    if isinstance(kernel, Sum):
        for white, other in ((kernel.k1, kernel.k2), (kernel.k2, kernel.k1)):
            if type(white) is WhiteKernel:  # zero between distinct points
                return _kernel_cross(other, X, Y)
        K = _kernel_cross(kernel.k1, X, Y)
        K += _kernel_cross(kernel.k2, X, Y)
        return K
    if isinstance(kernel, Product):
        for const, other in ((kernel.k1, kernel.k2), (kernel.k2, kernel.k1)):
            if type(const) is ConstantKernel and np.ndim(const.constant_value) == 0:
                K = _kernel_cross(other, X, Y)
                K *= float(const.constant_value)
                return K
    if type(kernel) is WhiteKernel:
        return np.zeros((X.shape[0], Y.shape[0]))  # k(x, y) for distinct x, y
    return kernel(X, Y)


# Query points per block of a cross-kernel: the (block, n_train) block stays
# about 1 MB and in cache (20000 predictions from 205 labels in d = 5:
# 0.155 s with 2**17, 0.227 s with 2**19, 0.210 s with 2**13).
_CROSS_BLOCK_ELEMENTS = 2**17


def map_cross_blocks(kernel, X, Y, func):
    """Call ``func(rows, K)`` with ``K = kernel(X[rows], Y)`` on blocks of rows.

    Blocks of about ``2**17`` entries, on several threads when there are
    many (``utils.prediction_threads``): ``func`` must write its rows only.
    """
    step = max(1, _CROSS_BLOCK_ELEMENTS // max(1, len(Y)))

    def block(start, stop):
        func(slice(start, stop), _kernel_cross(kernel, X[start:stop], Y))

    run_blocks(block, len(X), step, prediction_threads(len(X) * len(Y)))
