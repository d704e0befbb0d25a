"""The exercises' mechanism: the attendee fills a blank, a check answers with a sentence.

A notebook's exercise cell defines a function whose body is the blank (``...``), then
passes it through ``solution(fn)`` and a check::

    def fits_cpu(pod, node, pods_on_node):
        ...                                   # your code here
    fits_cpu = course.solution(fits_cpu)      # KFS_SOLUTIONS=1: the reference instead
    course.check_fits_cpu(fits_cpu)

``solution(fn)`` returns `fn` itself, unless the environment says ``KFS_SOLUTIONS=1``
(``./test.sh`` sets it for the notebooks): then it returns the function of the same name
in ``kfs.course.solutions``, the reference answer. So an attendee sees the blank and CI
proves that the reference passes the check.

A check (``kfs.course.check_...``) runs the function on cases and prints one sentence:
what is right, or the first case that is wrong, what was expected, and a hint. It never
raises for a wrong answer or an exception inside the attendee's code (that becomes a
sentence too) — except when ``KFS_SOLUTIONS=1``, where a failing reference must fail CI.
"""
import importlib
import os
import pkgutil
from dataclasses import dataclass


def solutions_on():
    return os.environ.get("KFS_SOLUTIONS") == "1"


def reference(name):
    """The reference answer called `name` in kfs.course.solutions."""
    import kfs.course.solutions as package
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if hasattr(module, name):
            return getattr(module, name)
    raise LookupError(f"kfs.course.solutions has no {name}")


def solution(fn):
    """`fn`, or with KFS_SOLUTIONS=1 the reference answer of the same name."""
    return reference(fn.__name__) if solutions_on() else fn


@dataclass
class Answer:
    ok: bool
    sentence: str

    def __bool__(self):
        return self.ok

    def __str__(self):
        return ("✔ " if self.ok else "✘ ") + self.sentence


def answer(ok, sentence):
    """Print the sentence and return it; with KFS_SOLUTIONS=1 a wrong answer fails."""
    result = Answer(ok, sentence)
    print(result)
    if solutions_on() and not ok:
        raise AssertionError(f"the reference solution fails its check: {sentence}")
    return result


def attempt(fn, *args):
    """(value, None) or (None, a sentence about what went wrong in the attendee's code)."""
    try:
        value = fn(*args)
    except NotImplementedError:
        return None, "not done yet: the function raises NotImplementedError."
    except Exception as e:  # an attendee's bug is a sentence, not a traceback
        return None, f"the function raised {type(e).__name__}: {e}"
    return value, None


def run_cases(fn, cases, describe, done):
    """Call fn(*args) for each (args, expected, hint); answer about the first wrong one."""
    for args, expected, hint in cases:
        value, error = attempt(fn, *args)
        if error:
            return answer(False, f"{describe(*args)}: {error} {hint}")
        if value is Ellipsis or value is None and expected is not None:
            return answer(False, f"not done yet: for {describe(*args)} the function returns "
                                 f"{value!r}. {hint}")
        if value != expected:
            return answer(False, f"for {describe(*args)} the answer is {value!r}, "
                                 f"expected {expected!r}. {hint}")
    return answer(True, done)
