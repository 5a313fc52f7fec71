"""The one random-stream rule."""

import numpy as np
import pytest

from sklearn_debias.utils import (
    check_generator,
    check_seed_sequence,
    child_seed,
    spawn_generators,
    spawn_seeds,
)


def test_int_seeds_one_seed_sequence():
    assert check_seed_sequence(5).entropy == 5
    a = check_generator(5).standard_normal(3)
    np.testing.assert_array_equal(a, np.random.default_rng(5).standard_normal(3))


def test_none_ignores_numpy_global_state():
    np.random.seed(0)
    a = check_generator(None).random()
    np.random.seed(0)
    b = check_generator(None).random()
    assert a != b


def test_generator_is_used_as_is_and_seed_sequence_kept():
    rng = np.random.default_rng(1)
    assert check_generator(rng) is rng
    seq = np.random.SeedSequence(3)
    assert check_seed_sequence(seq) is seq


@pytest.mark.parametrize("make", [np.random.RandomState, np.random.default_rng])
def test_shared_generators_advance(make):
    rng = make(0)
    first = check_seed_sequence(rng).entropy
    second = check_seed_sequence(rng).entropy
    assert first != second
    # ... and are reproducible from the same starting state.
    assert check_seed_sequence(make(0)).entropy == first


def test_children_are_independent_and_reproducible():
    a = [g.random() for g in spawn_generators(7, 4)]
    b = [g.random() for g in spawn_generators(7, 4)]
    assert a == b
    assert len(set(a)) == 4
    # The i-th child does not depend on how many are spawned.
    c = [g.random() for g in spawn_generators(7, 2)]
    assert c == a[:2]
    assert [s.spawn_key for s in spawn_seeds(7, 2)] == [(0,), (1,)]


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_bad_random_state(bad):
    with pytest.raises(ValueError, match="random_state"):
        check_seed_sequence(bad)


def test_child_seed_ignores_earlier_spawns():
    root = np.random.SeedSequence(11)
    fresh = np.random.default_rng(child_seed(root, 3)).random()
    root.spawn(5)  # a used sequence: .spawn would now shift the children
    assert np.random.default_rng(child_seed(root, 3)).random() == fresh
    assert [s.spawn_key for s in spawn_seeds(root, 2)] == [(0,), (1,)]
