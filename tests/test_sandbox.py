"""The sandbox itself: what a box looks like from inside, that it ends with its run,
that a missing bubblewrap is a clear error, and that unsafe mode is what it says.

The box is described by a trainee answer (``facts``) and checked by the
notebook's own tests, which run in the judge — the same path as grading.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import sandbox_quiz as sq  # noqa: E402

from kit.sandbox.boxes import Limits, SandboxUnavailable, Zygote  # noqa: E402
from kit.sandbox.supervisor import CodeGrader  # noqa: E402

pytestmark = pytest.mark.xdist_group("sandbox")

FACTS = """\
import os, resource, socket
status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines())
def can_write(p):
    try:
        open(p, 'w').close()
        return True
    except OSError:
        return False
facts = {
    'uid': os.getuid(),
    'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),
    'cwd': os.getcwd(),
    'data': open('data.csv').read(),
    'interfaces': [n for _, n in socket.if_nameindex()],
    'cap_eff': int(status['CapEff'].strip(), 16),
    'no_new_privs': status['NoNewPrivs'].strip(),
    'nproc': resource.getrlimit(resource.RLIMIT_NPROC)[0],
    'fsize': resource.getrlimit(resource.RLIMIT_FSIZE)[0],
    'nofile': resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    'cpu': resource.getrlimit(resource.RLIMIT_CPU)[0],
    'as_limited': resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY,
    'write_root': can_write('/x'), 'write_dev': can_write('/dev/x'),
    'write_tmp': can_write('/tmp/x'), 'write_kit': can_write('/opt/casekit/kit/x'),
    'env': sorted(os.environ),
    'mounts': [l.split()[3] for l in open('/proc/self/mountinfo')],
}
import ctypes, subprocess, threading
from kit.sandbox.seccomp import number
libc = ctypes.CDLL(None, use_errno=True)
def errno_of(name, *args):
    rc = libc.syscall(ctypes.c_long(number(name)), *[ctypes.c_long(a) for a in args])
    return 0 if rc >= 0 else ctypes.get_errno()
# each harmless, or refused by the kernel after the filter (EINVAL, EFAULT, EBADF)
facts['calls'] = {
    'ptrace': errno_of('ptrace', 0, 0, 0, 0), 'keyctl': errno_of('keyctl', 0, -3, 0),
    'bpf': errno_of('bpf', 0, 0, 0), 'perf_event_open': errno_of('perf_event_open', 0, 0, -1, -1, 0),
    'userfaultfd': errno_of('userfaultfd', 0), 'io_uring_setup': errno_of('io_uring_setup', 0, 0),
    'unshare': errno_of('unshare', 0), 'setns': errno_of('setns', -1, 0),
    'mount': errno_of('mount', 0, 0, 0, 0, 0), 'umount2': errno_of('umount2', 0, 0),
    'open_by_handle_at': errno_of('open_by_handle_at', -1, 0, 0),
    'clone-newuser': errno_of('clone', 0x10000000 | 0x200, 0, 0, 0, 0),
    'personality-exec': errno_of('personality', 0x0400000),
}
facts['personality-query'] = errno_of('personality', 0xffffffff)
facts['clone3'] = errno_of('clone3', 0, 0)
ran = []
t = threading.Thread(target=ran.append, args=(1,))
t.start(); t.join()
facts['threads-and-processes'] = ran == [1] and subprocess.run(['true']).returncode == 0
"""

CHECKS = {
    "runs as nobody": "facts['uid'] == (65534 if ROOT else facts['uid'])",
    "sees only its own processes": "facts['pids'][0] == 1 and len(facts['pids']) <= 4",
    "works in its scratch folder with the data": "facts['cwd'] == '/tmp/work' and facts['data'] == 'a,b\\n1,2\\n'",
    "has loopback only": "facts['interfaces'] == ['lo']",
    "has no capabilities": "facts['cap_eff'] == 0 and facts['no_new_privs'] == '1'",
    "is limited": "(facts['nproc'], facts['fsize'], facts['nofile'], facts['cpu']) == (20, 3 * 2**20, 50, 7) and facts['as_limited']",
    "refuses the dangerous calls (seccomp)": "facts['calls'] == {k: 1 for k in facts['calls']}",
    "keeps the ordinary ones": "facts['personality-query'] == 0 and facts['threads-and-processes']",
    "makes clone3 fall back to clone": "facts['clone3'] == 38",
    "writes only its scratch folder": "facts['write_tmp'] and not (facts['write_root'] or facts['write_dev'] or facts['write_kit'])",
    "has a scrubbed environment": "not [k for k in facts['env'] if k not in ENV]",
    # /proc/self/mountinfo names the folders the binds come from (not their content)
    "sees exactly the kit and venv folders of the host's course": "{m for m in facts['mounts'] if m.startswith(HOST)} <= {HOST + '/kit', HOST + '/.venv'}",
}  # fmt: skip


def _probe_notebook() -> nbformat.NotebookNode:
    env = ["HOME", "TMPDIR", "MPLCONFIGDIR", "MPLBACKEND", "LANG", "PATH", "PYTHONPATH", "PWD",
           "PYTHONDONTWRITEBYTECODE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
           "MKL_NUM_THREADS", "CASEKIT_MODE", "CASEKIT_PRELOAD"]  # fmt: skip
    host = str(Path(__file__).resolve().parents[1])
    setup = (
        f"from kit.questions import ask, test\nROOT = {os.geteuid() == 0}\nENV = {env!r}\n"
        f"HOST = {host!r}"
    )
    cells = [
        nbformat.v4.new_code_cell("unit = 'green'"),
        nbformat.v4.new_code_cell(setup),
        nbformat.v4.new_code_cell('ask.code("q-facts", "describe the box")'),
        nbformat.v4.new_code_cell("facts = {}"),
    ]
    cells[0].metadata["tags"] = ["parameters"]
    cells[1].metadata["tags"] = ["locked"]
    cells[3].metadata["tags"] = ["solution"]
    for name, expr in CHECKS.items():
        c = nbformat.v4.new_code_cell(
            f'@test("q-facts", name={name!r})\ndef _():\n    assert {expr}'
        )
        c.metadata["tags"] = ["tests"]
        cells.append(c)
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    return nb


def test_the_box_as_seen_from_inside(sandbox_grader) -> None:
    nb = _probe_notebook()
    instructor = sq.instructor_edition(nb)
    expected = [{**t, "name": t["name"]} for t in sq.expected_tests(instructor)]
    assert len(expected) == len(CHECKS)
    limits = Limits(processes=20, file_mb=3, open_files=50, cpu_seconds=7)
    run = sandbox_grader.run(
        instructor, {"q-facts": FACTS}, expected, files={"data.csv": b"a,b\n1,2\n"}, limits=limits
    )
    failed = [(t["name"], t["message"]) for t in run.tests if not t["passed"]]
    assert failed == [] and not run.failures, (failed, run.failures)


SECCOMP_PROBE = """
import ctypes, sys
from kit.sandbox import seccomp
seccomp.load(seccomp.sandbox_filter())  # as bwrap loads it on the sandbox
seccomp.load(seccomp.box_filter())  # as a box stacks it
libc = ctypes.CDLL(None, use_errno=True)
rc = libc.syscall(ctypes.c_long(seccomp.number('keyctl')), 0, ctypes.c_long(-3), 0)
print(rc, ctypes.get_errno(), flush=True)
if sys.argv[1] == 'x32':  # getpid through the x32 ABI: another ABI ends the process
    libc.syscall(ctypes.c_long(0x40000000 | 39))
    print('survived', flush=True)
"""


@pytest.mark.parametrize("abi", ["native", "x32"])
def test_the_seccomp_filter_refuses_and_kills_by_abi(abi) -> None:
    if abi == "x32" and os.uname().machine != "x86_64":
        pytest.skip("x32 is an x86_64 ABI")
    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", SECCOMP_PROBE, abi], capture_output=True,
                         text=True, cwd=root, timeout=60)  # fmt: skip
    assert out.stdout.splitlines()[0] == "-1 1"  # EPERM
    if abi == "x32":
        assert out.returncode == -31 and "survived" not in out.stdout  # SIGSYS
    else:
        assert out.returncode == 0, out.stderr


def _descendants(root: int) -> set[int]:
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                parent[int(d)] = int(
                    Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, IndexError, ValueError):
                pass
    out, todo = set(), [root]
    while todo:
        p = todo.pop()
        kids = {c for c, pp in parent.items() if pp == p} - out
        out |= kids
        todo += kids
    return out


def test_nothing_outlives_the_grader() -> None:
    instructor = sq.instructor_edition(sq.quiz_notebook())
    expected = sq.expected_tests(instructor)
    sleeper = (
        "import os, subprocess, time\nsubprocess.Popen(['sleep', '300'], start_new_session=True)\n"
        "if os.fork() == 0:\n    os.setsid()\n    time.sleep(300)\n" + sq.CORRECT["q-func"]
    )
    grader = CodeGrader()
    root = grader.zygote.proc.pid
    run = grader.run(instructor, {"q-func": sleeper}, expected)
    assert sq.points(run)["q-func"] == 3.0
    assert _descendants(root), "the zygote and its templates run until the grader closes"
    grader.close()
    for _ in range(50):
        if not _descendants(root) and not Path(f"/proc/{root}").exists():
            break
        time.sleep(0.1)
    assert not _descendants(root)
    assert not Path(grader.zygote.dir).exists()


def test_without_bubblewrap_the_error_names_the_package(monkeypatch, tmp_path) -> None:
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # a machine where bwrap is not installed
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        Zygote()


def test_unsafe_mode_runs_the_same_protocol_without_the_sandbox(tmp_path) -> None:
    instructor = sq.instructor_edition(sq.quiz_notebook())
    expected = sq.expected_tests(instructor)
    host_file = tmp_path / "host-secret.txt"
    host_file.write_text("HOST-ONLY")
    # Only a harmless read: in unsafe mode trainee code runs with the grader's rights.
    peek = f"summary = open({str(host_file)!r}).read()"
    with CodeGrader(unsafe=True) as grader:
        run = grader.run(instructor, sq.CORRECT, expected)
        assert sq.points(run) == sq.POINTS
        run = grader.run(instructor, {"q-data": peek}, expected)
    vis = next(t for t in run.tests if t["name"] == "summary is a Series")
    assert "HOST-ONLY" in vis["message"]  # what the sandbox exists to prevent


def test_bwrap_is_what_confines_the_zygote(sandbox_grader) -> None:
    cmd = Path(f"/proc/{sandbox_grader.zygote.proc.pid}/cmdline").read_bytes().split(b"\0")
    assert Path(cmd[0].decode()).name == "bwrap"
    assert b"--unshare-all" in cmd and b"--clearenv" in cmd and b"--die-with-parent" in cmd
    if os.geteuid() == 0:
        out = subprocess.run(
            ["ps", "-o", "uid=", "-p", str(sandbox_grader.zygote.proc.pid)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert out.stdout.strip() == "65534"


def test_a_template_killed_from_outside_is_rebuilt() -> None:
    instructor = sq.instructor_edition(sq.quiz_notebook())
    expected = sq.expected_tests(instructor)
    with CodeGrader() as grader:
        assert sq.points(grader.run(instructor, sq.CORRECT, expected)) == sq.POINTS
        # The zygote says which children it keeps: after a run, exactly the two
        # templates (a box on its way out is not kept, whatever /proc shows).
        kept = grader.zygote.kept()
        try:
            assert len(kept) == 2
            assert all(k.pid in _descendants(grader.zygote.proc.pid) for k in kept)
            for k in kept:
                k.kill()
        finally:
            for k in kept:
                k.close()
        time.sleep(0.2)
        assert sq.points(grader.run(instructor, sq.CORRECT, expected)) == sq.POINTS
        rebuilt = grader.zygote.kept()
        for k in rebuilt:
            k.close()
        assert len(rebuilt) == 2 and not {k.pid for k in rebuilt} & {k.pid for k in kept}


def test_a_grading_run_is_bounded_by_a_cgroup_or_grade_says_why_not(capsys) -> None:
    from kit.grading.coderun import _open
    from kit.sandbox.cgroup import NoCgroup, RunCgroup

    instructor = sq.instructor_edition(sq.quiz_notebook())
    expected = sq.expected_tests(instructor)
    grader = _open(CodeGrader, unsafe=False)  # what `grade` opens
    cgroup = grader.zygote.cgroup
    try:
        err = capsys.readouterr().err
        if isinstance(cgroup, NoCgroup):  # one line says so, and grading goes on
            assert err.count("cgroup") >= 1 and cgroup.reason in err and len(err.splitlines()) == 1
        else:
            assert isinstance(cgroup, RunCgroup) and "cgroup" not in err
            member = Path(f"/proc/{grader.zygote.proc.pid}/cgroup").read_text()
            assert cgroup.path.name in member
            assert (cgroup.path / "pids.max").read_text().strip() == str(cgroup.limits.processes)
            assert int((cgroup.path / "memory.max").read_text()) == cgroup.limits.memory_mb << 20
        assert sq.points(grader.run(instructor, sq.CORRECT, expected)) == sq.POINTS
    finally:
        grader.close()
    if isinstance(cgroup, RunCgroup):
        assert not cgroup.path.exists()


BOMB = """\
import pickle, kit.sandbox.safepickle as sp
x = [0, 0]
for _ in range(30):
    x = [x, x]  # 2**31 elements once expanded, 200 bytes as a pickle
bomb = pickle.dumps(x, protocol=5)
sp.dumps = lambda value: bomb
summary = df.groupby('g')['v'].sum()
"""


def test_a_pickle_bomb_is_the_submissions_uncheckable_answer(sandbox_grader) -> None:
    from kit.sandbox import safepickle
    from kit.sandbox.answers import FailureKind

    x: list = [0, 0]
    for _ in range(30):
        x = [x, x]
    with pytest.raises(safepickle.Refused, match="too large to check"):
        safepickle.loads(__import__("pickle").dumps(x, protocol=5))
    instructor = sq.instructor_edition(sq.quiz_notebook())
    expected = sq.expected_tests(instructor)
    run = sandbox_grader.run(instructor, {**sq.CORRECT, "q-data": BOMB}, expected)
    # the patched encoder sends the bomb for q-mut's value too; q-func's server forked before
    assert sq.points(run) == {"q-func": 3.0, "q-data": 0.0, "q-mut": 0.0}
    kinds = {f.kind for f in run.failures}
    assert kinds == {FailureKind.UNCHECKABLE}, run.failures
    assert all(f.kind.by_submission for f in run.failures)
    assert any("too large to check" in f.detail for f in run.failures)


@pytest.mark.parametrize(
    "payload",
    [
        b"cbuiltins\nlist\n(cbuiltins\nrange\n(I0\nI1000000000\ntRtR.",  # list(range(10**9))
        b"cbuiltins\nbytes\n(I10000000000\ntR.",  # bytes(10**10)
        b"cbuiltins\nlist\n(V" + b"a" * 100 + b"\ntR.",  # list('aaa...')
        b"cnumpy\nndarray\n((I100000000\ntVf8\ntR.",  # np.ndarray((10**8,), 'f8')
    ],
)
def test_constructor_calls_that_make_much_from_little_are_refused(payload) -> None:
    from kit.sandbox import safepickle

    with pytest.raises(safepickle.Refused, match="not plain data"):
        safepickle.loads(payload)
