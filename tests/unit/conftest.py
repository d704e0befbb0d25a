"""The unit tier's end-of-test check: no test may leave a cached object changed in place.

Every FakeApi a test makes is checked when the test ends (``FakeApi.verify_cache``): a
controller that changed an object it read from a FakeInformer, and whose mutation no later
verb noticed (or a worker thread swallowed), fails the test here.
"""
import pytest

from tests.fakes import FakeApi


@pytest.fixture(autouse=True)
def no_cache_mutations():
    FakeApi.made.clear()
    yield
    apis, FakeApi.made[:] = list(FakeApi.made), []
    for api in apis:
        api.verify_cache()
