"""Runs a generated Dockerfile's build and start steps on this machine, without a Docker engine.

There is no Docker engine here, so the harness proves an image's install and start steps the
closest way it can: it reads the Dockerfile (parsed by `dockerfile`, Docker's own parser) and
carries out its instructions in a scratch directory, one root per stage:

- FROM starts a stage with an empty root; the base image's `python` is a clean Python of the
  same minor version (`python` on PATH);
- absolute paths in RUN, COPY, WORKDIR, ENV and the start command are mapped into the stage's
  root (`/opt/venv` -> `<root>/opt/venv`), the way the image would see them; the base
  image's system directories (/usr, /etc, ...) are this machine's;
- COPY copies from the build context (filtered by `.dockerignore`) or from another stage;
  a RUN's bind mount (`--mount=type=bind,from=<name>,target=<path>`) links the named build
  context (`docker build --build-context name=<dir>`) or stage at its target for that RUN;
- RUN runs the command with bash as written, with three exceptions that are reported: the
  system-user commands (groupadd/useradd) are not run, their user is the numeric uid the
  start command then runs as; `--no-cache-dir` is dropped so pip may reuse its cache; and a
  Debian package install (apt-get) is not run: each package must be pinned to a version
  this machine's Debian archive (the base image's release, bookworm) offers, and be
  installed here, where its files under /usr stand in for the image's;
- USER makes the start command run as that uid/gid (the runner must be root), so a start that
  writes where the image does not allow it fails here as it would in the image.

What this cannot show: that the base image tags exist and that the build runs on their exact
Python patch release; hadolint checks the Dockerfile itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dockerfile

# An absolute path: a "/" that starts a token or follows "=" or ":" (not "://", not "a/b").
ABSOLUTE = re.compile(r"(?<![\w.:/$-])/(?=[\w.-])|(?<==)/(?=[\w.-])|(?<=[^/]:)/(?=[\w.-])")
VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")
SYSTEM_USER = re.compile(r"^\s*(groupadd|useradd)\b")
APT_INSTALL = re.compile(r"\bapt-get install\b(?P<arguments>[^&;|]*)")
# The base image's own directories: this machine's stand in for them.
UNMAPPED = ("/usr/", "/bin/", "/sbin/", "/lib", "/etc/", "/dev/", "/proc/", "/sys/")


def dockerignore_rules(text: str) -> list[tuple[re.Pattern[str], bool]]:
    """.dockerignore lines as (pattern, excludes) in order. Docker's rules, not git's: a
    pattern is anchored at the context root, `*`, `?` and `[...]` stop at "/", `**` crosses it."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        expression = ""
        for token in re.split(r"(\*\*/?|\*|\?|\[[^\]]*\])", pattern):
            if token.startswith("**"):
                expression += "(?:.*/)?" if token.endswith("/") else ".*"
            elif token == "*":
                expression += "[^/]*"
            elif token == "?":
                expression += "[^/]"
            elif token.startswith("["):
                expression += token.replace("[!", "[^")
            else:
                expression += re.escape(token)
        rules.append((re.compile(expression + r"\Z"), not negated))
    return rules


def excluded(path: Path, rules: list[tuple[re.Pattern[str], bool]]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parents decides."""
    candidates = [path.as_posix(), *(parent.as_posix() for parent in path.parents if parent.parts)]
    verdict = False
    for pattern, excludes in rules:
        if any(pattern.match(candidate) for candidate in candidates):
            verdict = excludes
    return verdict


@dataclass
class Stage:
    name: str
    root: Path
    env: dict[str, str]
    workdir: str = "/"
    user: tuple[int, int] | None = None
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)

    def path(self, absolute: str) -> Path:
        """Where an absolute path of the image lives in this stage's root."""
        return self.root / absolute.lstrip("/")

    def map(self, text: str) -> str:
        """`text` with the image's absolute paths mapped into this stage's root."""

        def replace(match: re.Match[str]) -> str:
            rest = text[match.start() :]
            return match.group(0) if rest.startswith(UNMAPPED) else f"{self.root}/"

        return ABSOLUTE.sub(replace, text)

    def expand(self, text: str) -> str:
        return VARIABLE.sub(lambda m: self.env.get(m.group(1) or m.group(2), ""), text)

    @property
    def cwd(self) -> Path:
        return self.path(self.workdir)


@dataclass
class Report:
    """What the runner did, step by step, and what it could not do as written."""

    steps: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class BuildError(AssertionError):
    pass


class DockerfileRunner:
    def __init__(
        self,
        dockerfile_path: Path,
        context: Path,
        scratch: Path,
        python: Path,
        ports: dict[int, int] | None = None,
        build_contexts: dict[str, Path] | None = None,
    ) -> None:
        self.commands = dockerfile.parse_file(str(dockerfile_path))
        self.context = context
        # Named contexts (`docker build --build-context name=dir`), for `RUN --mount=from=name`.
        self.build_contexts = build_contexts or {}
        self.scratch = scratch
        self.ports = ports or {}
        self.stages: dict[str, Stage] = {}
        self.users: dict[str, int] = {}
        self.report = Report()
        # The base image's interpreter: a directory on PATH holding `python`.
        self.base_bin = scratch / "base-image-bin"
        self.base_bin.mkdir(parents=True)
        for name in ("python", "python3"):
            (self.base_bin / name).symlink_to(python)
        # The unprivileged user must reach the stage roots, as in an image.
        scratch.chmod(0o755)

    # --- build ----------------------------------------------------------------------------

    def build(self) -> Stage:
        """Carry out every instruction; the last stage is the image."""
        stage: Stage | None = None
        for command in self.commands:
            instruction = command.cmd.upper()
            if instruction == "FROM":
                stage = self._start_stage(command.value)
                continue
            assert stage is not None, f"{command.original}: before any FROM"
            self.report.steps.append(f"[{stage.name}] {command.original}")
            handler = getattr(self, f"_{instruction.lower()}", None)
            if handler is None:
                raise BuildError(f"unsupported instruction: {command.original}")
            handler(stage, command)
        assert stage is not None, "the Dockerfile has no FROM"
        return stage

    def _start_stage(self, value: tuple[str, ...]) -> Stage:
        name = value[2] if len(value) == 3 and value[1].upper() == "AS" else str(len(self.stages))
        root = self.scratch / "stages" / name
        root.mkdir(parents=True)
        root.chmod(0o755)
        env = {
            "PATH": f"{self.base_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
        }
        stage = Stage(name=name, root=root, env=env)
        self.stages[name] = stage
        return stage

    def _env(self, stage: Stage, command: dockerfile.Command) -> None:
        pairs = command.value
        for key, value in zip(pairs[::2], pairs[1::2], strict=True):
            # Mapped first: the values it refers to ($PATH) are mapped already.
            stage.env[key] = self._published(stage.expand(stage.map(value)))

    def _workdir(self, stage: Stage, command: dockerfile.Command) -> None:
        (directory,) = command.value
        stage.workdir = directory if directory.startswith("/") else f"{stage.workdir}/{directory}"
        stage.cwd.mkdir(parents=True, exist_ok=True)

    def _copy(self, stage: Stage, command: dockerfile.Command) -> None:
        flags = dict(flag.lstrip("-").split("=", 1) for flag in command.flags)
        *sources, destination = command.value
        target = stage.path(destination) if destination.startswith("/") else stage.cwd / destination
        into_directory = destination.endswith("/") or len(sources) > 1
        for source in sources:
            if "from" in flags:
                origin, ignored = self.stages[flags["from"]].path(source), None
            else:
                origin, ignored = self.context / source, self._ignored()
            if not origin.exists():
                raise BuildError(f"COPY: {source} does not exist")
            if origin.is_dir():
                # Like Docker: a directory's contents are copied, not the directory itself.
                shutil.copytree(origin, target, symlinks=True, dirs_exist_ok=True, ignore=ignored)
                continue
            if ignored and ignored(str(origin.parent), [origin.name]):
                raise BuildError(f"COPY: {source} is excluded by .dockerignore")
            copy = target / origin.name if into_directory else target
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, copy, follow_symlinks=False)

    def _ignored(self) -> Callable[[str, list[str]], set[str]] | None:
        """The build context's .dockerignore as a `shutil.copytree` ignore function."""
        ignore_file = self.context / ".dockerignore"
        if not ignore_file.exists():
            return None
        rules = dockerignore_rules(ignore_file.read_text())

        def ignored(directory: str, names: list[str]) -> set[str]:
            relative = Path(directory).relative_to(self.context)
            return {name for name in names if excluded(relative / name, rules)}

        return ignored

    def _run(self, stage: Stage, command: dockerfile.Command) -> None:
        (script,) = command.value if len(command.value) == 1 else (" ".join(command.value),)
        if SYSTEM_USER.match(script):
            self._record_users(script)
            self.report.skipped.append(f"not run (system user; started as its uid): {script}")
            return
        if APT_INSTALL.search(script):
            self._check_debian_packages(script)
            self.report.skipped.append(f"not run (Debian packages; this machine's): {script}")
            return
        script = re.sub(r"\bchown (\w+):(\w+)\b", self._numeric_owner, script)
        script = script.replace(" --no-cache-dir", "")
        mounts = [self._bind_mount(stage, flag) for flag in command.flags]
        try:
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", stage.map(script)],
                cwd=stage.cwd,
                env=stage.env,
                capture_output=True,
                text=True,
                **self._as_user(stage),
            )
        finally:
            for target in mounts:
                target.unlink()
        if result.returncode != 0:
            raise BuildError(
                f"RUN failed ({result.returncode}): {script}\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )

    def _bind_mount(self, stage: Stage, flag: str) -> Path:
        """`--mount=type=bind,from=<context or stage>,target=<path>`, for one RUN: the
        source linked at the target in the stage's root; the link, to remove after."""
        name, _, value = flag.lstrip("-").partition("=")
        options = dict(option.split("=", 1) for option in value.split(","))
        if name != "mount" or options.get("type") != "bind" or "from" not in options:
            raise BuildError(f"unsupported RUN flag: {flag}")
        origin = options["from"]
        if origin in self.build_contexts:
            source = self.build_contexts[origin]
        elif origin in self.stages:
            source = self.stages[origin].path(options.get("source", "/"))
        else:
            raise BuildError(f"RUN {flag}: no build context or stage named {origin}")
        target = stage.path(options["target"])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source)
        return target

    @staticmethod
    def _check_debian_packages(script: str) -> None:
        """Each package of an apt-get install is pinned (`name=version`), that version is in
        the Debian archive apt knows here, and the package is installed on this machine."""
        for match in APT_INSTALL.finditer(script):
            packages = [word for word in match["arguments"].split() if not word.startswith("-")]
            for package in packages:
                name, _, version = package.partition("=")
                if not version:
                    raise BuildError(f"apt-get install {name}: not pinned to a version")
                offered = subprocess.run(
                    ["apt-cache", "show", package], capture_output=True, text=True, check=False
                )
                if offered.returncode != 0 or not offered.stdout.strip():
                    raise BuildError(
                        f"apt-get install {package}: the Debian archive offers no such version"
                        f" (apt-cache policy {name} lists those it does)"
                    )
                installed = subprocess.run(
                    ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True
                )
                if "installed" not in installed.stdout.split():
                    raise BuildError(f"{name} is not installed here, so the image cannot start")

    def _record_users(self, script: str) -> None:
        for part in script.split("&&"):
            ids = re.search(r"--(?:uid|gid) (\d+)", part)
            name = part.split()[-1]
            if ids:
                self.users[name] = int(ids.group(1))

    def _numeric_owner(self, match: re.Match[str]) -> str:
        user, group = match.groups()
        return f"chown {self.users.get(user, user)}:{self.users.get(group, group)}"

    def _user(self, stage: Stage, command: dockerfile.Command) -> None:
        (spec,) = command.value
        user, _, group = spec.partition(":")
        uid = int(user) if user.isdigit() else self.users[user]
        gid = int(group) if group.isdigit() else self.users.get(group, uid)
        stage.user = (uid, gid)

    def _entrypoint(self, stage: Stage, command: dockerfile.Command) -> None:
        assert command.json, f"use the exec form: {command.original}"
        stage.entrypoint = list(command.value)

    def _cmd(self, stage: Stage, command: dockerfile.Command) -> None:
        assert command.json, f"use the exec form: {command.original}"
        stage.cmd = list(command.value)

    def _healthcheck(self, stage: Stage, command: dockerfile.Command) -> None:
        kind, *arguments = command.value
        assert kind == "CMD" and command.json, f"use CMD in exec form: {command.original}"
        stage.healthcheck = [self._published(argument) for argument in arguments]

    def _expose(self, stage: Stage, command: dockerfile.Command) -> None:
        """Nothing to do: a published port is mapped where it appears (see `_published`)."""

    def _stopsignal(self, stage: Stage, command: dockerfile.Command) -> None:
        """Nothing to do: the harness stops processes with SIGTERM."""

    def _published(self, text: str) -> str:
        """Like `docker run -p`: the container's port is a free port of this machine."""
        for inside, outside in self.ports.items():
            text = re.sub(rf"(?<![\d]){inside}(?![\d])", str(outside), text)
        return text

    # --- start ----------------------------------------------------------------------------

    def start(
        self,
        image: Stage,
        arguments: list[str] | None = None,
        entrypoint: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[str]:
        """`docker run [--entrypoint ...] image [arguments]` as a process, as the image's user."""
        command = (image.entrypoint if entrypoint is None else entrypoint) + (
            image.cmd if arguments is None else arguments
        )
        assert command, "the image has neither ENTRYPOINT nor CMD"
        return subprocess.Popen(
            [image.map(part) for part in command],
            cwd=image.cwd,
            env={**image.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            **self._as_user(image),
        )

    def prepare(self, image: Stage, stage: Stage, command: list[str]) -> None:
        """Run `command` with another stage's environment and files (the builder's, which has
        the training extra), in the image's working directory as the image's user: how the
        harness provides the data a mounted volume would bring."""
        result = subprocess.run(
            [stage.map(part) for part in command],
            cwd=image.cwd,
            env=stage.env,
            capture_output=True,
            text=True,
            timeout=600,
            **self._as_user(image),
        )
        if result.returncode != 0:
            raise BuildError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")

    def healthy(self, image: Stage) -> bool:
        """Whether the image's HEALTHCHECK command succeeds now."""
        assert image.healthcheck, "the image has no HEALTHCHECK"
        try:
            result = subprocess.run(
                [image.map(part) for part in image.healthcheck],
                cwd=image.cwd,
                env=image.env,
                capture_output=True,
                timeout=10,
                **self._as_user(image),
            )
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0

    @staticmethod
    def _as_user(stage: Stage) -> dict[str, int]:
        if stage.user is None:
            return {}
        uid, gid = stage.user
        return {"user": uid, "group": gid, "extra_groups": []}
