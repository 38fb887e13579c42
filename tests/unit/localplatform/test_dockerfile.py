"""deploy/Dockerfile (what CI builds with Docker) and the local builder describe one image."""

from __future__ import annotations

import io
import json
import shlex
import tarfile
from typing import NamedTuple

from meridian.localplatform import baseimage, imagebuild, imagespec


class Stage(NamedTuple):
    name: str
    parent: str
    instructions: list[tuple[str, str]]

    def values(self, keyword: str) -> list[str]:
        return [value for word, value in self.instructions if word == keyword]


def _stages() -> list[Stage]:
    """The Dockerfile's stages: continuation lines joined, comments dropped."""
    text = imagespec.DOCKERFILE.read_text().replace("\\\n", " ")
    stages: list[Stage] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        keyword, _, value = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            parent, _, name = value.partition(" AS ")
            stages.append(Stage(name.strip(), parent.strip(), []))
        else:
            stages[-1].instructions.append((keyword.upper(), " ".join(value.split())))
    return stages


def _stage(name: str) -> Stage:
    return next(stage for stage in _stages() if stage.name == name)


def test_every_service_is_a_target_on_the_shared_runtime_stage() -> None:
    stages = _stages()
    assert [stage.name for stage in stages] == ["base", "deps", "runtime", *imagespec.SERVICES]
    for service in imagespec.SERVICES:
        assert _stage(service).parent == "runtime"
    assert all(word != "HEALTHCHECK" for stage in stages for word, _ in stage.instructions)


def test_entrypoint_user_workdir_and_env_agree_with_the_local_builder() -> None:
    runtime = _stage("runtime")
    for service in imagespec.SERVICES:
        local = imagebuild.config(service)
        assert runtime.values("USER") == [local.user] == ["10001:10001"]
        assert runtime.values("WORKDIR") == [local.workdir]
        (env,) = runtime.values("ENV")
        # PATH is Debian's default in both: the Dockerfile inherits it, the builder writes it.
        assert [local.env[0], *shlex.split(env)] == local.env
        assert local.env[0] == "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        (entrypoint,) = _stage(service).values("ENTRYPOINT")
        assert json.loads(entrypoint) == local.entrypoint
        assert json.loads(entrypoint) == ["python3", "-m", f"meridian.services.{service}"]


def test_the_base_is_the_same_debian_release_and_python() -> None:
    base = _stage("base")
    assert base.parent == f"debian:{baseimage.POINT_RELEASE}-slim"
    (run,) = base.values("RUN")
    installed = run.split("--no-install-recommends ")[1].split(" &&")[0].split()
    assert installed == list(baseimage.PACKAGES)
    assert all("=" in package for package in baseimage.PACKAGES)  # exact versions, pinned


def test_runtime_wheels_are_chosen_as_the_local_builder_chooses_them() -> None:
    deps = _stage("deps")
    (pyproject,) = deps.values("COPY")
    assert pyproject == "pyproject.toml /src/pyproject.toml"
    pip = next(run for run in deps.values("RUN") if "pip install" in run)
    assert '["project"]["dependencies"]' in pip  # never [project.optional-dependencies]
    args = shlex.split(pip.split("pip install ")[1].split(" && ")[0])
    assert f"--target={imagespec.DEPS}" in args
    assert [arg for arg in args if arg in imagespec.PIP_TARGET_ARGS] == list(
        imagespec.PIP_TARGET_ARGS
    )
    assert not any("dev" in requirement for requirement in imagespec.runtime_requirements())


def test_the_code_layer_holds_what_the_dockerfile_copies_and_nothing_else() -> None:
    copies = _stage("runtime").values("COPY")
    assert copies[0] == f"--from=deps {imagespec.DEPS} {imagespec.DEPS}"
    assert copies[1:] == [f"{source} {imagespec.APP}/{target}" for source, target in imagespec.CODE]
    with tarfile.open(fileobj=io.BytesIO(imagebuild.code_layer())) as layer:
        names = layer.getnames()
    app = imagespec.APP.lstrip("/")
    assert f"{app}/meridian/services/orders/__main__.py" in names
    assert f"{app}/meridian/core/runtime/app.py" in names
    assert all(name.startswith(f"{app}/meridian/") for name in names)
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    tops = {name.split("/")[4] for name in names if name.count("/") > 4}
    assert tops == {"core", "services"}  # no operators, no local platform in a service image
