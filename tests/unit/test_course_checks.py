"""The exercises' checks: a wrong answer gets a sentence (never a traceback), the reference
passes, and with KFS_SOLUTIONS=1 a notebook gets the reference instead of the blank."""
import pytest

from kfs import course
from kfs.course import exercise
from kfs.course.pictures import graph, running_at

CHECKS = [("registry_key", course.check_registry_key, lambda p, ns, n: f"/{p}/{n}"),
          ("fits_cpu", course.check_fits_cpu, lambda pod, node, on: True),
          ("manage_replicas", course.check_manage_replicas, lambda n, ps: (n, [])),
          ("restart_backoff", course.check_restart_backoff, lambda deaths: 10 * 2 ** deaths),
          ("statistic_probabilities", course.check_statistic_probabilities,
           lambda n: [1 / n] * (n - 1)),
          ("machine_address", course.check_machine_address,      # always the kfs lab's
           lambda subnet, name: f"192.168.56.{10 if name == 'cp' else 10 + int(name[4:])}"),
          ("first_free_subnet", course.check_first_free_subnet,
           lambda network, taken: "10.244.0.0/24"),
          ("load_balancer_backends", course.check_load_balancer_backends,   # every InternalIP
           lambda nodes: sorted(a["address"] for n in nodes for a in n["status"]["addresses"]
                                if a["type"] == "InternalIP"))]


@pytest.fixture(autouse=True)
def attendee(monkeypatch):
    monkeypatch.delenv("KFS_SOLUTIONS", raising=False)


@pytest.mark.parametrize("name,check,wrong", CHECKS, ids=[c[0] for c in CHECKS])
def test_a_wrong_answer_fails_with_a_sentence_naming_the_case(name, check, wrong, capsys):
    result = check(wrong)
    assert not result.ok
    assert "expected" in result.sentence and result.sentence.endswith(".")
    assert capsys.readouterr().out.startswith("✘ ")


@pytest.mark.parametrize("name,check,wrong", CHECKS, ids=[c[0] for c in CHECKS])
def test_the_blank_and_a_crash_are_sentences_too(name, check, wrong):
    def blank(*args):
        ...

    def crash(*args):
        return {}["nothing"]

    assert "not done yet" in check(blank).sentence
    assert "raised KeyError" in check(crash).sentence


@pytest.mark.parametrize("name,check,wrong", CHECKS, ids=[c[0] for c in CHECKS])
def test_the_reference_solution_passes(name, check, wrong, capsys):
    assert check(exercise.reference(name)).ok
    assert capsys.readouterr().out.startswith("✔ ")


def test_solution_is_the_blank_for_an_attendee_and_the_reference_under_KFS_SOLUTIONS(monkeypatch):
    def fits_cpu(pod, node, pods_on_node):
        ...

    assert course.solution(fits_cpu) is fits_cpu
    monkeypatch.setenv("KFS_SOLUTIONS", "1")
    assert course.solution(fits_cpu) is exercise.reference("fits_cpu")


def test_under_KFS_SOLUTIONS_a_failing_check_fails_the_run(monkeypatch):
    monkeypatch.setenv("KFS_SOLUTIONS", "1")
    with pytest.raises(AssertionError, match="reference solution fails"):
        course.check_fits_cpu(lambda pod, node, on: True)


def test_wait_returns_the_value_and_names_what_it_waited_for_on_timeout():
    values = iter([0, 0, 7])
    assert course.wait(lambda: next(values), 5, what="seven", interval=0.01) == 7
    with pytest.raises(TimeoutError, match="waiting for nothing"):
        course.wait(lambda: False, 0.05, what="nothing", interval=0.01)


def test_the_architecture_is_a_figure_outside_pyplot_with_who_talks_to_whom():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    fig = course.architecture("kube-scheduler", stage="scheduler")
    assert isinstance(fig, Figure) and plt.get_fignums() == []
    assert ("kube-apiserver", "etcd") in graph().edges
    assert "kube-proxy" not in running_at("scheduler") and "kube-proxy" in running_at(None)
    with pytest.raises(ValueError, match="no component"):
        course.architecture("kube-nothing")


def test_the_wrong_probabilities_are_told_what_each_rule_sees(capsys):
    # the classic mistake: 1/n on every rule gives the first endpoint more than its share
    result = course.check_statistic_probabilities(lambda n: [1 / n] * (n - 1))
    assert "a Service with 4 endpoint(s)" in result.sentence
    assert "1 / (endpoints left)" in result.sentence


def test_a_subnet_overlapping_a_taken_one_is_refused():
    def first_fit_by_name(network, taken):      # compares strings, misses the /23
        import ipaddress
        for s in list(ipaddress.ip_network(network).subnets(new_prefix=24))[1:]:
            if str(s) not in taken:
                return str(s)

    result = course.check_first_free_subnet(first_fit_by_name)
    assert not result.ok and "overlaps" in result.sentence


def test_a_path_is_a_figure_with_one_box_per_hop_and_the_arrows_named():
    import matplotlib.pyplot as plt
    fig = course.path([("pod", "UDP 53"), ("10.96.0.10", "DNAT"), ("kfs dns", "")], "a query")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert {"pod", "10.96.0.10", "kfs dns", "UDP 53", "DNAT"} <= set(texts)
    assert plt.get_fignums() == []
    with pytest.raises(ValueError):
        course.path([])


def test_a_notebook_says_before_it_deletes_an_object_it_did_not_make(capsys):
    from tests.fakes import FakeApi
    api = FakeApi({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "echo", "namespace": "default"}, "spec": {}})
    assert course.say_before_deleting(api, "deployments", "echo", "this notebook makes its own")
    assert capsys.readouterr().out == ("deployment/echo exists already (from ./demo.sh or an "
                                       "earlier run): deleting it, this notebook makes its own\n")
    assert api.get("deployments", "echo", "default")  # it only says so: the notebook deletes
    assert not course.say_before_deleting(api, "deployments", "web", "why")
    assert capsys.readouterr().out == ""
