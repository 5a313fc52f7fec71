import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _single_threaded_blas():
    # Small dense products run far faster single-threaded on a shared machine.
    with threadpool_limits(limits=1):
        yield
