"""Random streams: one rule for every estimator and function of the package.

``random_state`` is turned into one :class:`numpy.random.SeedSequence`:

* an integer ``s`` seeds ``SeedSequence(s)``;
* ``None`` draws fresh operating-system entropy (never numpy's global state);
* a ``RandomState`` or a ``Generator`` supplies 128 bits of entropy from its
  own stream (so a shared generator advances, as scikit-learn's do);
* a ``SeedSequence`` is used as it is.

Every independent piece of work (a fold, a chunk of query points, a block of
probe vectors, a recursion of multilevel Picard, a block of sketch rows)
takes a child spawned from that sequence, in a fixed order. Results then
depend on ``random_state`` only: not on ``n_jobs``, the joblib backend, the
machine's core count or numpy's global state.
"""

import numbers

import numpy as np

__all__ = [
    "check_seed_sequence",
    "check_generator",
    "child_seed",
    "child_int_seed",
    "spawn_seeds",
    "spawn_generators",
]


def check_seed_sequence(random_state):
    """The :class:`numpy.random.SeedSequence` that ``random_state`` stands for.

    Parameters
    ----------
    random_state : int, None, RandomState, Generator or SeedSequence
        See the module docstring.

    Returns
    -------
    seed_sequence : numpy.random.SeedSequence

    Examples
    --------
    >>> from sklearn_debias.utils import check_seed_sequence
    >>> check_seed_sequence(7).entropy
    7
    """
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if random_state is None:
        return np.random.SeedSequence()
    if isinstance(random_state, numbers.Integral) and not isinstance(
        random_state, bool
    ):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}")
        return np.random.SeedSequence(int(random_state))
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(
            random_state.integers(0, 2**32, size=4, dtype=np.uint64).tolist()
        )
    if isinstance(random_state, np.random.RandomState):
        return np.random.SeedSequence(
            random_state.randint(0, 2**32, size=4, dtype=np.uint64).tolist()
        )
    raise ValueError(
        "random_state must be None, a non-negative int, a numpy RandomState, "
        f"Generator or SeedSequence; got {random_state!r}"
    )


def check_generator(random_state):
    """A :class:`numpy.random.Generator` for ``random_state``.

    A ``Generator`` is returned as it is (draws advance it); anything else
    seeds a new one from :func:`check_seed_sequence`, so an integer ``s``
    gives the same stream as ``numpy.random.default_rng(s)``.

    Parameters
    ----------
    random_state : int, None, RandomState, Generator or SeedSequence

    Returns
    -------
    rng : numpy.random.Generator

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.utils import check_generator
    >>> bool(check_generator(3).random() == np.random.default_rng(3).random())
    True
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(check_seed_sequence(random_state))


def spawn_seeds(random_state, n):
    """``n`` independent child :class:`~numpy.random.SeedSequence` objects.

    Parameters
    ----------
    random_state : int, None, RandomState, Generator or SeedSequence
    n : int
        Number of children.

    Returns
    -------
    seeds : list of numpy.random.SeedSequence
    """
    root = check_seed_sequence(random_state)
    return [child_seed(root, i) for i in range(int(n))]


def child_seed(random_state, index):
    """Child number ``index`` of the seed sequence, built from its spawn key.

    Unlike :meth:`numpy.random.SeedSequence.spawn`, it does not depend on how
    many children were spawned before: block ``index`` of a computation (a
    block of sketch rows, a probe block) gets the same stream however the
    work is chunked or scheduled. For a fresh sequence, child ``i`` equals
    the ``i``-th child of ``spawn``.

    Parameters
    ----------
    random_state : int, None, RandomState, Generator or SeedSequence
    index : int
        Non-negative child index.

    Returns
    -------
    seed : numpy.random.SeedSequence

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.utils import child_seed
    >>> child_seed(7, 2).spawn_key == np.random.SeedSequence(7).spawn(3)[2].spawn_key
    True
    """
    root = check_seed_sequence(random_state)
    return np.random.SeedSequence(
        root.entropy,
        spawn_key=(*root.spawn_key, int(index)),
        pool_size=root.pool_size,
    )


def spawn_generators(random_state, n):
    """``n`` independent generators, one per spawned child sequence.

    Parameters
    ----------
    random_state : int, None, RandomState, Generator or SeedSequence
    n : int
        Number of generators.

    Returns
    -------
    generators : list of numpy.random.Generator
    """
    return [np.random.default_rng(s) for s in spawn_seeds(random_state, n)]


def child_int_seed(random_state, index):
    """An integer seed from child ``index``, for estimators that want an int.

    scikit-learn estimators take an ``int`` (or a ``RandomState``) as
    ``random_state``; this is the one way the package turns a child of its
    seed sequence (:func:`child_seed`) into one, in ``[0, 2**31)``.

    Parameters
    ----------
    random_state : int, None, RandomState, Generator or SeedSequence
    index : int
        Non-negative child index.

    Returns
    -------
    seed : int

    Examples
    --------
    >>> from sklearn_debias.utils import child_int_seed
    >>> child_int_seed(7, 0) == child_int_seed(7, 0) != child_int_seed(7, 1)
    True
    """
    return int(np.random.default_rng(child_seed(random_state, index)).integers(2**31))
