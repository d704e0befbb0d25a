"""The three kubectls (1.32 on PATH, Debian's 1.20, the newest) against kfs apiserver, for
what depends on the client's version: ``auth can-i --list``, ``auth whoami``, ``explain``
and client-side validation on ``apply``.

What each sends: ``auth can-i --list`` POSTs a SelfSubjectRulesReview for the namespace
(1.20 as JSON, 1.32 and 1.37 as protobuf); ``auth whoami`` (1.32 and 1.37; 1.20 has no such
command, it came in 1.26) POSTs a SelfSubjectReview to authentication.k8s.io/v1 (and would
try v1beta1, v1alpha1 on a 404).
"""
import re

import pytest

from kfs import versions
from kfs.util import wait_for

WHOAMI_CLIENTS = {"kubectl-1.32": None,
                  f"kubectl-{versions.KUBECTL_NEWEST}": versions.KUBECTL_NEWEST}


def rows(out):
    """kubectl's table as lists of cells (columns are two spaces or more apart)."""
    return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if line.strip()]


# -- auth ---------------------------------------------------------------------------------------

def test_can_i_list_prints_the_admins_rules_as_upstream_does(any_kubectl):
    table = rows(any_kubectl("auth", "can-i", "--list"))
    assert table[0] == ["Resources", "Non-Resource URLs", "Resource Names", "Verbs"]
    assert ["*.*", "[]", "[]", "[*]"] in table
    assert ["[*]", "[]", "[*]"] in table   # the non-resource rule: no Resources cell
    assert ["selfsubjectrulesreviews.authorization.k8s.io", "[]", "[]", "[create]"] in table
    assert ["[/version]", "[]", "[get]"] in table


def test_can_i_list_shows_a_users_role_in_that_namespace_only(any_kubectl, ns):
    any_kubectl("create", "role", "reader", "-n", ns, "--verb=get,list", "--resource=pods")
    any_kubectl("create", "rolebinding", "alice-reads", "-n", ns, "--role=reader",
                "--user=alice")
    alice = any_kubectl.as_user("alice")
    wait_for(lambda: ["pods", "[]", "[]", "[get list]"] in rows(
        alice("auth", "can-i", "--list", "-n", ns)), 10, what="alice's role in the review")
    assert ["*.*", "[]", "[]", "[*]"] not in rows(alice("auth", "can-i", "--list", "-n", ns))
    assert "pods" not in [r[0] for r in rows(alice("auth", "can-i", "--list", "-n", "default"))]


@pytest.mark.parametrize("version", list(WHOAMI_CLIENTS.values()), ids=list(WHOAMI_CLIENTS))
def test_whoami_prints_the_user_and_groups(kubectl_of, version):
    admin = rows(kubectl_of(version)("auth", "whoami"))
    assert admin[0] == ["ATTRIBUTE", "VALUE"]
    assert ["Username", "kubernetes-admin"] in admin
    assert ["Groups", "[system:masters system:authenticated]"] in admin
    alice = rows(kubectl_of(version).as_user("alice")("auth", "whoami"))
    assert ["Username", "alice"] in alice and ["UID", "1001"] in alice
    assert ["Groups", "[dev system:authenticated]"] in alice


def test_whoami_as_another_user_names_the_impersonated_one(kubectl_of):
    out = rows(kubectl_of(None)("auth", "whoami", "--as", "bob", "--as-group", "dev"))
    assert ["Username", "bob"] in out and ["Groups", "[dev system:authenticated]"] in out
