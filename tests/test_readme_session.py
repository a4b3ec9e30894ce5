"""The README's session, run line by line as a newcomer types it: one bash, started in the
checkout, with a home of its own and the venv not yet activated. Only the ports are changed
(to free ones); each line must exit 0 and print what its README comment promises, with no
progress bars drawn into its output (a file, not a terminal)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

SAMPLE_PORT, SERVE_PORT = "8765", "8080"

# what each line of the session prints (a fragment of its output; {home} is the shell's
# home), or which file it writes; a line added to the README needs its promise added here
PROMISES: dict[str, str] = {
    ". .venv/bin/activate": "",
    "mkdir -p ~/archive && cd ~/archive": "",
    "palimpsest sample-network --port 8765 &":
        "Sample network revision 1 serving as an HTTP proxy at http://127.0.0.1:8765",
    "palimpsest init --sample-network http://127.0.0.1:8765":
        "wrote {home}/archive/warcs/palimpsest.toml",
    "palimpsest crawl": "crawl log and WARCs in {home}/archive/warcs/crawls/",
    "palimpsest index": "captures added",
    "palimpsest search '\"on behalf of\" site:allyvia'": "pages match",
    "palimpsest captures http://allyvia.test/": "  http://allyvia.test/",
    "kill %1": "",
    "palimpsest sample-network --port 8765 --revision 2 &":
        "Sample network revision 2 serving as an HTTP proxy at http://127.0.0.1:8765",
    "palimpsest diff http://allyvia.test/about/": "text changed",
    "palimpsest changes": "Changes from crawl",
    "palimpsest cdxj > all.cdxj": "file:all.cdxj",
    "wget -q --delete-after --warc-file=wget -e use_proxy=on -e "
    "http_proxy=127.0.0.1:8765 http://allyvia.test/": "file:wget.warc.gz",
    "palimpsest add wget.warc.gz": "1 WARC file read",
    "palimpsest verify": "no faults",
    "palimpsest serve": "Palimpsest serving {home}/archive/warcs at http://127.0.0.1:8080/",
}
# the second crawl of the session (revision 2) finds what changed
SECOND_CRAWL = "changed:"


def session_lines() -> list[str]:
    """The commands of the README's session block, comments and comment lines left out."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## A session", 1)[1].split("```", 2)[1]
    lines = (re.sub(r"\s+#\s.*$", "", line).strip() for line in block.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


class Shell:
    """One bash reading the session's lines, each line's output in files of its own."""

    def __init__(self, home: Path) -> None:
        self.logs = home / ".session"
        self.logs.mkdir()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PALIMPSEST_", "VIRTUAL_ENV"))}
        env.update(HOME=str(home), NO_COLOR="1")
        self.bash = subprocess.Popen(["bash", "--norc", "--noprofile"], stdin=subprocess.PIPE,
                                     text=True, cwd=ROOT, env=env)
        self.background: list[int] = []
        self.n = 0

    def run(self, line: str, timeout: float = 300) -> tuple[int, str]:
        """Run a foreground line; its exit code and its output (stdout, then stderr)."""
        out, rc = self._next()
        self._send(f"{{ {line}\n}} > {out} 2>&1; echo $? > {rc}.part; mv {rc}.part {rc}\n")
        deadline = time.monotonic() + timeout
        while not rc.exists():
            assert time.monotonic() < deadline, f"{line!r} still running after {timeout}s"
            time.sleep(0.1)
        return int(rc.read_text()), out.read_text()

    def start(self, line: str, ready: str, timeout: float = 60) -> str:
        """Run a line ending in `&`; wait until its output holds `ready`, and return it."""
        out, pid = self._next()
        self._send(f"{line.removesuffix('&').strip()} > {out} 2>&1 &\necho $! > {pid}\n")
        deadline = time.monotonic() + timeout
        while not (pid.exists() and ready in out.read_text()):
            assert time.monotonic() < deadline, f"{line!r} printed no {ready!r}: " \
                f"{out.read_text() if out.exists() else ''}"
            time.sleep(0.1)
        self.background.append(int(pid.read_text()))
        return out.read_text()

    def close(self) -> None:
        for pid in self.background:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass  # the session's `kill %1` stopped it already
        self.bash.stdin.close()
        self.bash.wait(timeout=30)

    def _next(self) -> tuple[Path, Path]:
        self.n += 1
        out = self.logs / f"{self.n}.out"
        out.touch()
        return out, self.logs / f"{self.n}.rc"

    def _send(self, text: str) -> None:
        self.bash.stdin.write(text)
        self.bash.stdin.flush()


@pytest.fixture()
def shell(tmp_path: Path) -> Iterator[Shell]:
    running = Shell(tmp_path)
    yield running
    running.close()


def test_every_line_of_the_session_has_its_promise_here():
    assert set(session_lines()) == set(PROMISES)


@pytest.mark.skipif(shutil.which("wget") is None, reason="the session uses wget (make test "
                    "installs it)")
def test_readme_session_runs_line_by_line(shell, tmp_path):
    sample, web = free_port(), free_port()
    crawls = 0
    for line in session_lines():
        promise = PROMISES[line].format(home=tmp_path).replace(SAMPLE_PORT, sample)
        line = line.replace(SAMPLE_PORT, sample)
        if line.endswith("&"):
            shell.start(line, promise)
            continue
        if line == "palimpsest serve":
            shown = shell.start(f"{line} --port {web} &", promise.replace(SERVE_PORT, web))
            with urllib.request.urlopen(f"http://127.0.0.1:{web}/search?q=summit") as page:
                assert page.status == 200 and b"summit" in page.read().lower(), shown
            continue
        code, output = shell.run(line)
        assert code == 0, f"{line!r} exited {code}:\n{output}"
        assert "\r" not in output, f"{line!r} drew progress bars into a file"
        if promise.startswith("file:"):
            written = tmp_path / "archive" / promise.removeprefix("file:")
            assert written.stat().st_size > 0, line
        else:
            assert promise in output, f"{line!r} printed:\n{output}"
        if line == "palimpsest crawl":
            crawls += 1
            if crawls == 2:
                assert SECOND_CRAWL in output, output
