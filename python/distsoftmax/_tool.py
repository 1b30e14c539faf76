"""Finding and running the dist-softmax command line.

The tool is found, in this order, as
  1. DISTSOFTMAX_EXE: a path to the ``dist-softmax`` executable, or to ``dist-softmax.dll`` (run with ``dotnet``);
  2. ``dist-softmax`` on PATH;
  3. the Release build of the repository this package sits in (or, for an installed copy, of the repository the
     current directory is in): src/DistSoftmax.Cli/bin/Release/net10.0/dist-softmax.dll.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

# Exit codes of dist-softmax (src/DistSoftmax.Cli/README.md).
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_STOPPED = 3

RELEASE_DLL = Path("src", "DistSoftmax.Cli", "bin", "Release", "net10.0", "dist-softmax.dll")


def _command_for(path):
    """The argv prefix that runs the tool at ``path``: a .dll runs with dotnet, anything else directly."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dist-softmax: {path} does not exist")
    if path.suffix.lower() == ".dll":
        dotnet = shutil.which("dotnet")
        if dotnet is None:
            raise FileNotFoundError(f"dist-softmax: {path} needs 'dotnet' to run, and dotnet is not on PATH")
        return [dotnet, str(path)]
    return [str(path)]


def _repository_builds():
    """Candidate Release builds: up from this file (a source checkout), then up from the current directory."""
    seen = set()
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            if folder in seen:
                continue
            seen.add(folder)
            if (folder / "src" / "DistSoftmax.Cli").is_dir():
                yield folder / RELEASE_DLL


def find_executable():
    """The argv prefix that runs dist-softmax (see the module docstring for the search order)."""
    env = os.environ.get("DISTSOFTMAX_EXE")
    if env:
        return _command_for(env)
    on_path = shutil.which("dist-softmax")
    if on_path:
        return [on_path]
    candidates = list(_repository_builds())
    for dll in candidates:
        if dll.is_file():
            return _command_for(dll)
    where = ", ".join(str(c) for c in candidates) or "no repository found above this package or the current directory"
    raise FileNotFoundError(
        "dist-softmax not found: set DISTSOFTMAX_EXE to the dist-softmax executable or dist-softmax.dll, put "
        "dist-softmax on PATH, or build the repository (dotnet build src/DistSoftmax.Cli -c Release); looked at: " + where)


def cli_options(options):
    """snake_case keyword arguments as kebab-case command-line options.

    ``max_iter=50`` → ``--max-iter 50``; ``True`` → a bare flag, ``False`` and ``None`` → nothing; floats keep every
    digit (repr); lists and tuples are comma-joined (``epsilons=[1e-2, 1e-3]`` → ``--epsilons 0.01,0.001``).
    """
    args = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            args += [flag, ",".join(_text(v) for v in value)]
        else:
            args += [flag, _text(value)]
    return args


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    try:  # NumPy scalars
        import numpy as np
        if isinstance(value, np.floating):
            return repr(float(value))
        if isinstance(value, np.integer):
            return str(int(value))
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    return str(value)


def accepts_option(command, option):
    """Whether ``dist-softmax <command> --help`` lists ``option`` (for options newer than some builds)."""
    out = subprocess.run(find_executable() + [command, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, check=False)
    for line in out.stdout.splitlines():
        # Option rows of System.CommandLine's help: "  -h, --help  …", "  --tol <X>  …".
        names = line.strip().split("  ")[0].replace(",", " ").split()
        if option in names:
            return True
    return False


def _number(value):
    """report.json writes non-finite numbers as "NaN", "Infinity", "-Infinity": back to floats."""
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    return value


def decode_numbers(entry):
    """A trace row (dict) with its named non-finite numbers turned back into floats."""
    return {k: _number(v) for k, v in entry.items()}


def name_paths(message, names):
    """``message`` with every temporary file path in ``names`` replaced by the Python argument it holds.

    The tool writes a file as "A (/tmp/distsoftmax-…/A.npy)" where it names the option too; once the path is the
    argument's name that would read "A (A)", so such a pair becomes just "A".
    """
    for path, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
        message = message.replace(path, name)
        message = re.sub(rf"(?<![\w-])(?:--)?{re.escape(name)} \({re.escape(name)}\)", name, message)
    return message


def raise_for_exit(code, stderr, names):
    """Exit 2 → ValueError with the tool's one-line message (without "error: "); any other failure → RuntimeError.

    ``names`` maps the temporary files' paths to the Python argument they hold, so a message names ``b`` rather than
    /tmp/distsoftmax-…/b.npy.
    """
    if code == EXIT_BAD_INPUT:
        lines = [l for l in stderr.splitlines() if l.startswith("error: ")]
        message = lines[0][len("error: "):] if lines else stderr.strip()
        raise ValueError(name_paths(message, names))
    raise RuntimeError(f"dist-softmax failed (exit code {code}):\n{stderr.strip()}")


STOP_TIMEOUT = 10.0  # seconds a stopped child gets to write its files (and cancel a server job) before it is killed


def stop(proc, timeout=STOP_TIMEOUT):
    """Asks a running dist-softmax to stop as Ctrl+C would, and waits (at most ``timeout`` s) until it has exited.

    SIGTERM (``terminate``) lets a local solve end at its next iteration with its files and checkpoint written, and a
    ``solve --server`` client cancel its job on the service; SIGKILL would do neither. stdout is drained meanwhile, so
    a full pipe cannot hold the child. A child still running after ``timeout`` seconds is killed.
    """
    if proc.poll() is not None:
        return
    try:
        proc.terminate()
    except ProcessLookupError:  # exited in between
        pass
    try:
        proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(args, names=None, on_event=None):
    """Runs ``dist-softmax args``; returns (exit code, list of JSON events read from stdout, stdout text, stderr).

    When ``on_event`` is given, stdout is read line by line while the tool runs and every line that is a JSON object
    (``solve --progress json``) is passed to it as a dict as soon as it arrives. stderr goes to a temporary file, so a
    chatty stderr can never block the child. If ``on_event`` raises (or the wait is interrupted, KeyboardInterrupt),
    the child is stopped with SIGTERM (see :func:`stop`: a server job is cancelled, a local solve writes its files and
    keeps its checkpoint) and the exception propagates.
    """
    names = names or {}
    command = find_executable() + [str(a) for a in args]
    events, lines = [], []
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as err:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True, encoding="utf-8", bufsize=1)
        try:
            for line in proc.stdout:
                lines.append(line)
                if on_event is None:
                    continue
                text = line.strip()
                if text.startswith("{"):
                    event = json.loads(text)
                    events.append(event)
                    on_event(event)
            code = proc.wait()
        except BaseException:
            stop(proc)
            raise
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        err.seek(0)
        stderr = err.read()
    if code not in (EXIT_OK, EXIT_STOPPED):
        raise_for_exit(code, stderr, names)
    return code, events, "".join(lines), stderr
