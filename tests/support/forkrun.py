"""`python <script> args…` and `python -c <code> args…` as fresh processes forked from a warm interpreter.

Running the program under Pulumi's mocks takes a new process each time (the mocks are process-global), and
most of such a process's time went into importing pulumi, pulumi_aws (hundreds of modules), grpc and the
rest before the program ran at all. Here one server process per test session keeps those third-party
modules imported and forks a child per run: the child gets the caller's environment, working directory,
argv, sys.path[0] and stdin (/dev/null), runs the script as `__main__` (or the code, as `-c` does), runs
its atexit handlers and exits with the script's code; stdout and stderr are captured as subprocess.run's
are. The project's own modules (components/, scripts/, …) are never preloaded: every child imports them
fresh from disk, as a cold `python scripts/plan.py` does. The server learns which third-party modules to
keep from the children themselves (each reports what it imported), so it needs no list.

    result = python(["scripts/plan.py", "--stack", "dev"], cwd=ROOT)   # a subprocess.CompletedProcess
"""
from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The server: reads one JSON request a line on fd `requests`, answers one JSON line on fd `answers`.
SERVER = r'''
import gc, importlib, json, os, runpy, sys, traceback

requests, answers, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
inbox, outbox = os.fdopen(requests, "r"), os.fdopen(answers, "w")
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 0)
base_path = list(sys.path[1:])


def own(name):
    """A module of the project itself (or __main__): never preloaded. The virtualenv (sys.prefix, maybe
    inside the project's directory) holds the third-party ones."""
    module = sys.modules.get(name)
    paths = [os.path.abspath(path) for path in
             [getattr(module, "__file__", None) or "", *(getattr(module, "__path__", None) or [])] if path]
    return name in ("__main__", "__mp_main__") or any(
        path.startswith(root + os.sep) and not path.startswith(sys.prefix + os.sep) for path in paths)


def child(request):
    os.setpgid(0, 0)
    outbox.close()
    inbox.close()
    out = os.open(request["stdout"], os.O_WRONLY | os.O_TRUNC)
    err = os.open(request["stderr"], os.O_WRONLY | os.O_TRUNC)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    argv = request["argv"]
    code = 0
    try:
        if argv[0] == "-c":
            sys.argv = ["-c", *argv[2:]]
            sys.path[:] = ["", *base_path]
            main = type(sys)("__main__")
            sys.modules["__main__"] = main
            exec(compile(argv[1], "<string>", "exec"), main.__dict__)
        else:
            sys.argv = list(argv)
            sys.path[:] = [os.path.dirname(os.path.abspath(argv[0])), *base_path]
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if not isinstance(stop.code, int) and stop.code is not None:
            print(stop.code, file=sys.stderr)
    except BaseException as error:  # printed as python prints it: from the script's own frames on
        tb = error.__traceback__
        while tb is not None and (tb.tb_frame.f_code is child.__code__
                                  or tb.tb_frame.f_globals.get("__name__") == "runpy"):
            tb = tb.tb_next
        traceback.print_exception(type(error), error, tb)
        code = 1
    try:
        import atexit
        atexit._run_exitfuncs()
    finally:
        loaded = sorted(name for name in list(sys.modules) if not own(name))
        with open(request["modules"], "w") as report:
            json.dump(loaded, report)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code & 0xFF)


for line in inbox:
    request = json.loads(line)
    gc.collect()
    gc.freeze()
    pid = os.fork()
    if pid == 0:
        child(request)
    outbox.write(json.dumps({"pid": pid}) + "\n")
    outbox.flush()
    _, status = os.waitpid(pid, 0)
    outbox.write(json.dumps({"status": os.waitstatus_to_exitcode(status)}) + "\n")
    outbox.flush()
    try:
        with open(request["modules"]) as report:
            for name in json.load(report):
                if name not in sys.modules:
                    try:
                        importlib.import_module(name)
                    except BaseException:
                        pass
    except (OSError, ValueError):
        pass
'''


class ForkServer:
    """One warm interpreter; run() forks a child of it per call (one at a time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._scratch = Path(tempfile.mkdtemp(prefix="forkrun-"))

    def _start(self) -> None:
        to_server, requests = os.pipe()
        answers, from_server = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(to_server), str(from_server), str(ROOT)], cwd=ROOT,
            pass_fds=(to_server, from_server), stdin=subprocess.DEVNULL, start_new_session=True)
        os.close(to_server)
        os.close(from_server)
        self._requests = os.fdopen(requests, "w")
        self._answers = os.fdopen(answers, "r")

    def _answer(self, timeout: float | None) -> dict:
        if timeout is not None and not select.select([self._answers], [], [], timeout)[0]:
            raise TimeoutError
        line = self._answers.readline()
        if not line:
            raise RuntimeError("the fork server stopped")
        return json.loads(line)

    def run(self, argv: list[str], *, cwd: str | os.PathLike, timeout: float | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._start()
            out, err, modules = (self._scratch / name for name in ("stdout", "stderr", "modules.json"))
            for path in (out, err):
                path.write_bytes(b"")
            request = {"argv": [str(a) for a in argv], "cwd": str(cwd), "env": dict(os.environ if env is None else env),
                       "stdout": str(out), "stderr": str(err), "modules": str(modules)}
            self._requests.write(json.dumps(request) + "\n")
            self._requests.flush()
            pid = self._answer(30)["pid"]
            try:
                status = self._answer(timeout)["status"]
            except TimeoutError:
                os.killpg(pid, signal.SIGKILL)
                self._answer(30)
                output, stderr = out.read_text(errors="replace"), err.read_text(errors="replace")
                raise subprocess.TimeoutExpired([sys.executable, *argv], timeout, output, stderr) from None
            return subprocess.CompletedProcess([sys.executable, *argv], status, out.read_text(), err.read_text())

    def close(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                self._requests.close()
                try:
                    self._process.wait(10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            self._process = None
            for path in self._scratch.iterdir():
                path.unlink()
            self._scratch.rmdir()


_server: ForkServer | None = None


def python(argv: list[str], *, cwd: str | os.PathLike = ROOT, timeout: float | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """What `subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=cwd, timeout=timeout)`
    returns, from a child forked off the session's warm interpreter."""
    global _server
    if _server is None:
        _server = ForkServer()
        atexit.register(_server.close)
    return _server.run(argv, cwd=cwd, timeout=timeout, env=env)
