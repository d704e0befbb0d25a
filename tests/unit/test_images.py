import io
import json
import tarfile

from kfs import images, versions


def members(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}, tar


def test_rootfs_has_busybox_and_a_symlink_per_applet():
    found, _ = members(images.rootfs({}))
    assert found["bin/busybox"].mode & 0o111
    assert found["bin/sh"].issym() and found["bin/sh"].linkname == "busybox"
    assert found["bin/wget"].issym()
    assert found["tmp"].mode == 0o1777


def test_echo_image_serves_a_cgi_that_prints_hostname_ip_and_client():
    data = images.rootfs(images.IMAGES[versions.ECHO_IMAGE]["files"])
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        cgi = tar.extractfile("www/cgi-bin/index.cgi").read().decode()
        assert tar.getmember("www/cgi-bin/index.cgi").mode & 0o111
    assert "hostname=$(hostname) ip=$ip client=$REMOTE_ADDR" in cgi


def test_pause_and_echo_exit_on_sigterm_instead_of_waiting_for_sigkill():
    for image in (versions.PAUSE_IMAGE, versions.ECHO_IMAGE):
        cmd = json.loads(images.IMAGES[image]["changes"][0][len("CMD "):])
        assert 'trap "exit 0" TERM' in cmd[-1]


def test_build_is_idempotent_and_rebuilds_only_what_changed(tmp_path):
    assert set(images.build(tmp_path)) == set(images.IMAGES)
    assert images.build(tmp_path) == []
    (tmp_path / "kfs_echo_1.json").write_text("{}")
    assert images.build(tmp_path) == [versions.ECHO_IMAGE]


def test_built_images_are_reproducible(tmp_path):
    assert images.rootfs({}) == images.rootfs({})
