"""The unit tier's end-of-test check: no test may leave a cached object changed in place.

Every FakeApi a test makes is checked when the test ends (``FakeApi.verify_cache``): a
controller that changed an object it read from a FakeInformer, and whose mutation no later
verb noticed (or a worker thread swallowed), fails the test here. A test that failed
already is not failed twice.
"""
import pytest

from tests.fakes import FakeApi


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "call":
        item.failed_in_call = outcome.get_result().failed


@pytest.fixture(autouse=True)
def no_cache_mutations(request):
    FakeApi.made.clear()
    yield
    apis, FakeApi.made[:] = list(FakeApi.made), []
    if not getattr(request.node, "failed_in_call", False):
        for api in apis:
            api.verify_cache()
