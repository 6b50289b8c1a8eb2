"""Hostile trainees: code answers that try to read secrets, forge results, outlive the run,
write outside their scratch folder, reach the network or exhaust resources.

Every answer goes through the real sandbox (bubblewrap, namespaces, the judge)
against a real notebook (tests/fixtures/sandbox_quiz.py).  The whole batch
runs at once, two submissions in parallel, as a grading run would; then each
case checks the exact score it deserves (a correct answer with extra hostile
code keeps the points it earns, a forged one gets none) and the typed failure
it caused, and the batch as a whole checks the host: planted secrets unread,
sentinel files untouched, the loopback server never reached, no process of
the run left, no marker in any message.
"""

from __future__ import annotations

import http.server
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import sandbox_quiz as sq  # noqa: E402
from conftest import ROOT  # noqa: E402

from kit.answers import FailureKind  # noqa: E402
from kit.sandbox import Limits  # noqa: E402
from kit.supervisor import CodeGrader, CodeJob  # noqa: E402

pytestmark = pytest.mark.xdist_group("sandbox")

LIMITS = Limits(
    cell_timeout=5, run_timeout=40, memory_mb=400, cpu_seconds=12, processes=24,
    file_mb=4, scratch_mb=16, open_files=64, answer_mb=4,
)  # fmt: skip

# A probe collects what it finds in LEAKS; its answer then carries it into a message.
# The markers are spelt backwards in the probe's source: the probe must not find its own text.
PROBE = (
    "LEAKS = []\ndef leak(x):\n    LEAKS.append(str(x)[:300])\nMK = [s[::-1] for s in @REVERSED@]\n"
)
FUNC = (
    "def total(d):\n    if LEAKS:\n        return 'LEAK:' + '|'.join(LEAKS)\n"
    "    return float(d['v'].sum())\n"
)
REVERSED = "[" + ", ".join(repr(v[::-1]) for v in sq.MARK.values()) + "]"


@dataclass
class Case:
    id: str
    answers: dict[str, str]
    expect: dict[str, float]  # points per question
    kinds: set[FailureKind] = field(default_factory=set)  # one of these must be reported
    notebook: str = "quiz"  # or "green": the sample course's green-data exercise


def probe(body: str) -> dict[str, str]:
    """A correct function answer that also runs ``body`` and leaks whatever it found."""
    return {"q-func": PROBE + body + "\n" + FUNC}


FULL = {"q-func": 3.0}
CASES = [
    # ------------------------------------------------------------------ reading secrets
    Case(
        "read-keys-file",
        probe(
            "import glob\nfor p in ['@KEYS@', '@NOTEBOOK@'] + glob.glob('../*.keys.json') + glob.glob('../../*/*.keys.json'):\n"
            "    try:\n        leak(open(p).read())\n    except Exception:\n        pass"
        ),
        FULL,
    ),
    Case(
        "read-hidden-tests-file",
        probe(
            "import os\nfor p in ['@HIDDEN@', '@COURSE@/course.toml', '@COURSE@']:\n"
            "    try:\n        leak(os.listdir(p) if os.path.isdir(p) else open(p).read())\n"
            "    except Exception:\n        pass"
        ),
        FULL,
    ),
    Case(
        "proc-of-parent",
        probe(
            "import os\nfor pid in [os.getppid()] + [p for p in os.listdir('/proc') if p.isdigit()]:\n"
            "    for part in ('environ', 'cmdline'):\n"
            "        try:\n            t = open(f'/proc/{pid}/{part}', 'rb').read().decode('latin-1')\n"
            "        except Exception:\n            continue\n"
            "        if any(m in t for m in MK) or '@COURSE@' in t:\n            leak(t)\n"
            "    try:\n        c = os.readlink(f'/proc/{pid}/cwd')\n        if '@COURSE@' in c:\n            leak(c)\n"
            "    except Exception:\n        pass\n"
            "me = open('/proc/self/cmdline', 'rb').read()\n"
            "for p in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
            "    if open(f'/proc/{p}/cmdline', 'rb').read() != me:\n        leak('another process ' + p)"
        ),
        FULL,
    ),
    Case(
        "environment",
        probe(
            "import os\nenv = dict(os.environ)\n"
            "if any(m in str(env) for m in MK) or '@COURSE@' in str(env) or 'CASEKIT_TEST_SECRET' in env:\n    leak(env)"
        ),
        FULL,
    ),
    Case(
        "gc-and-frames",
        probe(
            "import gc, sys, time\nstop = time.monotonic() + 2\n"
            "for o in gc.get_objects():\n"
            "    if time.monotonic() > stop:\n        break\n"
            "    if o is MK:\n        continue\n"
            "    if type(o) is dict:\n        vals = o.values()\n    elif type(o) in (list, tuple):\n        vals = o\n"
            "    else:\n        continue\n"
            "    for v in list(vals)[:1000]:\n        if type(v) is str and any(m in v for m in MK):\n            leak(v)\n"
            "for f in sys._current_frames().values():\n"
            "    while f is not None:\n"
            "        for v in list(f.f_locals.values()) + list(f.f_code.co_consts):\n"
            "            if type(v) is str and any(m in v for m in MK):\n                leak(f.f_code.co_name)\n"
            "        f = f.f_back"
        ),
        FULL,
    ),
    Case(
        "walk-the-filesystem",
        probe(
            "import os, sys, kit\n"
            "skip = {'/usr', '/proc', '/sys', '/dev', sys.prefix, sys.base_prefix, os.path.dirname(kit.__file__)}\n"
            "for top in ('..', '../..', '/'):\n"
            "    for root, dirs, files in os.walk(os.path.abspath(top)):\n"
            "        dirs[:] = [d for d in dirs if os.path.join(root, d) not in skip]\n"
            "        for n in files:\n"
            "            if n.endswith(('.keys.json', '.sqlite')) or 'casekit-sentinel' in n:\n"
            "                leak(os.path.join(root, n))\n"
            "            p = os.path.join(root, n)\n"
            "            try:\n                if os.path.getsize(p) < 200000 and any(m in open(p, errors='ignore').read() for m in MK):\n"
            "                    leak(p)\n            except OSError:\n                pass"
        ),
        FULL,
    ),
    Case(
        "root-powers",
        probe(
            "import os, ctypes\nif os.getuid() != 65534:\n    leak(('uid', os.getuid()))\n"
            "for attempt in (lambda: os.setuid(0), lambda: open('/etc/shadow').read(),\n"
            "                lambda: open('/proc/sys/kernel/hostname', 'w').write('x')):\n"
            "    try:\n        attempt()\n        leak('power')\n    except Exception:\n        pass\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "if libc.mount(b'none', b'/tmp', b'tmpfs', 0, None) == 0:\n    leak('mount')\n"
            "if libc.umount2(b'/proc', 2) == 0:\n    leak('umount')\n"
            "if libc.unshare(0x10000000) == 0:\n    leak('a user namespace of its own')"
        ),
        FULL,
    ),
    # ------------------------------------------------------------------ forging results
    Case(
        "patch-numpy-allclose",
        {
            "q-func": "import numpy\nnumpy.allclose = lambda *a, **k: True\nnp.allclose = numpy.allclose\n"
            "def total(d):\n    return float(d['v'].sum()) if list(d['v']) == list(df['v']) else 0.0\n"
        },
        {"q-func": 1.0},
    ),
    Case(
        "patch-pandas",
        {
            "q-data": "import pandas\npandas.Series.reindex = lambda self, *a, **k: self\n"
            "pandas.Series.__eq__ = lambda self, other: True\n"
            "summary = pandas.Series([0.0, 0.0, 0.0], index=['a', 'b', 'c'])\n"
        },
        {"q-data": 1.0},
    ),
    Case(
        "rebind-assertion-error",
        {
            "q-func": "import builtins\nclass Never(Exception):\n    pass\nbuiltins.AssertionError = Never\n"
            "AssertionError = Never\ndef total(d):\n    return 0.0\n"
        },
        {"q-func": 0.0},
    ),
    Case(
        "patch-display-and-traceback",
        {
            "q-func": "ip = get_ipython()\nip.display_pub.publish = lambda *a, **k: None\n"
            "type(ip).showtraceback = lambda *a, **k: None\nip.showtraceback = lambda *a, **k: None\n"
            "def total(d):\n    return -1.0\n"
        },
        {"q-func": 0.0},
    ),
    Case(
        "patch-kit-test",
        {
            "q-func": "import kit.questions as q\nPASS = {'question': 'q-func', 'passed': True}\n"
            "q.test = lambda *a, **k: (lambda f: f)\ntest = q.test\n"
            "q.TestCase.run = lambda self: {**PASS, 'name': self.name, 'points': self.points, 'message': '', 'hidden': False}\n"
            "def total(d):\n    return None\n"
        },
        {"q-func": 0.0},
    ),
    Case(
        "rebind-helper-and-parameter",
        {
            "q-data": "make_data = lambda s: pd.DataFrame({'g': list('abc'), 'v': [0.0, 0.0, 0.0]})\nseed = 0\n"
            "summary = make_data(seed).groupby('g')['v'].sum()\n"
        },
        {"q-data": 1.0},
    ),
    Case(
        "evil-eq-bool-repr",
        {
            "q-data": "class Evil:\n    __class__ = pd.Series\n    def __eq__(self, o):\n        return True\n"
            "    def __bool__(self):\n        return True\n    def __repr__(self):\n        return 'passed'\n"
            "    def __getattr__(self, n):\n        return lambda *a, **k: self\n"
            "summary = Evil()\n"
        },
        {"q-data": 0.0},
        {FailureKind.UNCHECKABLE},
    ),
    Case(
        "evil-series-subclass",
        {
            "q-data": "class S(pd.Series):\n    def __eq__(self, o):\n        return True\n"
            "summary = S([0.0, 0.0, 0.0], index=list('abc'))\n"
        },
        {"q-data": 0.0},
        {FailureKind.UNCHECKABLE},
    ),
    Case(
        "pickle-reduce-payload",
        {
            "q-data": "import os, pickle, kit.safepickle as sp\nclass Boom:\n"
            "    def __reduce__(self):\n        return (os.system, ('touch /tmp/work/pwned',))\n"
            "sp.dumps = lambda value: pickle.dumps(Boom())\n"
            "summary = df.groupby('g')['v'].sum()\n"
        },
        {"q-data": 0.0},
        {FailureKind.UNCHECKABLE},
    ),
    Case(
        "forged-verdict-frames",
        {
            "q-func": "import gc, socket\nfrom kit.zygote import send_frame\n"
            "rec = {'question': 'q-func', 'name': 'total(df) is the sum', 'points': 1, 'passed': True, 'message': '', 'hidden': False}\n"
            "for s in [o for o in gc.get_objects() if isinstance(o, socket.socket)]:\n"
            "    try:\n        send_frame(s, ('tests', 5, [rec], None, False))\n        send_frame(s, ('done',))\n"
            "    except Exception:\n        pass\n"
            "def total(d):\n    return 0.0\n"
        },
        {"q-func": 0.0},
    ),
    Case(
        "sys-exit-after-a-right-answer",
        {"q-func": sq.CORRECT["q-func"] + "import sys\nsys.exit(0)\n"},
        FULL,
        {FailureKind.EXIT},
    ),
    Case(
        "sys-exit-with-a-wrong-answer",
        {"q-func": "def total(d):\n    return 1.0\nraise SystemExit(0)\n"},
        {"q-func": 0.0},
        {FailureKind.EXIT},
    ),
    Case(
        "os-exit-in-the-second-answer",
        {**sq.CORRECT, "q-data": "import os\nos._exit(0)\n"},
        {"q-func": 3.0, "q-data": 0.0, "q-mut": 0.0},
        {FailureKind.EXIT},
    ),
    Case(
        "raise-in-del",
        {
            "q-func": sq.CORRECT["q-func"]
            + "import os\nclass D:\n    def __del__(self):\n        raise SystemExit('from __del__')\n"
            "d = D()\ndel d\nimport gc\ngc.collect()\n"
        },
        FULL,
    ),
    # ------------------------------------------------------------------ surviving processes
    Case(
        "fork-sleeper",
        probe("import os, time\nif os.fork() == 0:\n    time.sleep(300)\n    os._exit(0)"),
        FULL,
    ),
    Case(
        "setsid-double-fork",
        probe(
            "import os, time, signal\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n        signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
            "        time.sleep(300)\n    os._exit(0)"
        ),
        FULL,
    ),
    Case(
        "daemon-thread",
        probe(
            "import threading, time\nthreading.Thread(target=lambda: time.sleep(300), daemon=True).start()"
        ),
        FULL,
    ),
    Case(
        "subprocess-sleeper",
        probe(
            "import subprocess\nsubprocess.Popen(['sleep', '300'], start_new_session=True)\n"
            "subprocess.Popen(['sh', '-c', 'nohup sleep 301 >/dev/null 2>&1 &'])"
        ),
        FULL,
    ),
    # ------------------------------------------------------------------ writing outside the scratch folder
    Case(
        "write-the-gradebook",
        probe(
            "import os\nfor p in ['@GRADEBOOK@', '../../gradebook.sqlite', '/gradebook.sqlite']:\n"
            "    try:\n        open(p, 'r+b').write(b'\\0' * 64)\n        leak('wrote ' + p)\n    except Exception:\n        pass\n"
            "    try:\n        os.remove(p)\n        leak('removed ' + p)\n    except Exception:\n        pass"
        ),
        FULL,
    ),
    Case(
        "write-the-course-and-host-tmp",
        probe(
            "import os\nfor p in ['@COURSE@/course.toml', '@COURSE@/new.txt', '@HOSTTMP@', '/usr/pwned', '/pwned']:\n"
            "    try:\n        open(p, 'a').write('pwned')\n        if not p.startswith('/tmp/'):\n            leak('wrote ' + p)\n"
            "    except Exception:\n        pass"
        ),
        FULL,
    ),
    Case(
        "write-the-kit-package",
        probe(
            "import kit, os\nd = os.path.dirname(kit.__file__)\n"
            "for p in [os.path.join(d, 'questions.py'), os.path.join(d, 'pwned.py')]:\n"
            "    try:\n        open(p, 'a').write('# pwned')\n        leak('wrote ' + p)\n    except Exception:\n        pass"
        ),
        FULL,
    ),
    # ------------------------------------------------------------------ network
    Case(
        "loopback-server-of-the-host",
        probe(
            "import urllib.request\nfor host in ('127.0.0.1', 'localhost'):\n"
            "    try:\n        leak(urllib.request.urlopen(f'http://{host}:@PORT@/', timeout=1).read())\n"
            "    except Exception:\n        pass"
        ),
        FULL,
    ),
    Case(
        "outside-address",
        probe(
            "import socket\nfor addr in (('1.1.1.1', 53), ('8.8.8.8', 443)):\n"
            "    try:\n        socket.create_connection(addr, timeout=1)\n        leak(addr)\n    except Exception:\n        pass\n"
            "try:\n    socket.getaddrinfo('pypi.org', 443)\n    leak('dns')\nexcept Exception:\n    pass"
        ),
        FULL,
    ),
    # ------------------------------------------------------------------ resources
    Case(
        "memory-bomb-caught",
        {
            "q-func": sq.CORRECT["q-func"]
            + "try:\n    hog = bytearray(3 * 1024 ** 3)\nexcept MemoryError:\n    hog = None\n"
        },
        FULL,
    ),
    Case(
        "memory-bomb",
        {
            "q-data": "hog = [bytearray(50 * 10 ** 6) for _ in range(200)]\n"
            "summary = df.groupby('g')['v'].sum()\n"
        },
        {"q-data": 0.0},
        {FailureKind.MEMORY},
    ),
    Case(
        "fork-bomb",
        probe(
            "import os, time\ntry:\n    while True:\n        if os.fork() == 0:\n            time.sleep(300)\n"
            "            os._exit(0)\nexcept OSError:\n    pass"
        ),
        FULL,
    ),
    Case(
        "cpu-loop",
        {"q-func": "while True:\n    pass\n" + sq.CORRECT["q-func"]},
        {"q-func": 0.0},
        {FailureKind.TIMEOUT},
    ),
    Case(
        "cpu-loop-swallowing-the-timeout",
        {
            "q-func": "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass\n"
            + sq.CORRECT["q-func"]
        },
        {"q-func": 0.0},
        {FailureKind.TIMEOUT, FailureKind.CRASHED},
    ),
    Case(
        "huge-file",
        probe(
            "try:\n    with open('big', 'wb') as f:\n        for _ in range(100):\n            f.write(b'x' * 2 ** 20)\n"
            "except OSError:\n    pass"
        ),
        FULL,
    ),
    Case(
        "fd-exhaustion",
        probe(
            "fds = []\ntry:\n    while True:\n        fds.append(open('/dev/null'))\nexcept OSError:\n    pass"
        ),
        FULL,
    ),
    Case("huge-output", probe("for _ in range(20):\n    print('x' * 10 ** 6)"), FULL),
    Case(
        "huge-answer",
        {"q-data": "import numpy\nsummary = numpy.zeros(2 * 10 ** 6)\n"},
        {"q-data": 0.0},
        {FailureKind.UNCHECKABLE},
    ),
    Case(
        "function-that-hangs-when-called",
        {
            "q-func": "def total(d):\n    while True:\n        try:\n            pass\n        except BaseException:\n            pass\n"
        },
        {"q-func": 0.0},
    ),
]
# Two trainees graded side by side: the first leaves notes everywhere it can write,
# the second looks for them.
NOTES = ["/tmp/work/note.txt", "/tmp/note.txt", "/dev/shm/note.txt", "/note.txt", "/dev/note.txt"]
CASES += [
    Case(
        "scratch-writer",
        probe(
            f"for p in {NOTES!r}:\n    try:\n        open(p, 'w').write('A was here')\n"
            "    except Exception:\n        pass"
        ),
        FULL,
    ),
    Case(
        "scratch-reader",
        probe(
            f"import os, time\ntime.sleep(0.5)\nfor p in {NOTES!r}:\n"
            "    if os.path.exists(p):\n        leak('saw ' + p)"
        ),
        FULL,
    ),
]


# The sample course's green-data exercise: its hidden tests rebuild the ledger with
# the notebook's own helper make_ledger(seed, focus_township) and compare with
# np.allclose; its second answer mutates the notebook's ledger.
GREEN_Q1 = 'by_industry = ledger.groupby("产业")["产值2025"].sum().sort_values(ascending=False)\n'
GREEN_Q2 = (
    'ledger["增速"] = (ledger["产值2025"] / ledger["产值2024"] - 1) * 100\n'
    'declining = ledger[(ledger["乡镇"] == focus_township) & (ledger["增速"] < 0)].sort_values("增速")\n'
)
GREEN = {"g2-by-industry": 3.0, "g2-declining": 4.0}
CASES += [
    Case(
        "green-patched-allclose-and-ones",
        {"g2-by-industry": "import numpy\nnumpy.allclose = np.allclose = lambda *a, **k: True\n"
                           + GREEN_Q1 + "by_industry = by_industry * 0 + 1\n"},
        {"g2-by-industry": 2.0},  # a sorted Series of the right industries, wrong sums
        notebook="green",
    ),
    Case(
        "green-rebound-helper-forges-the-reference",
        {"g2-declining": "fake = ledger.copy()\nfake['增速'] = -1.0\n"
                         "make_ledger = lambda seed, focus: fake.copy()\n"
                         "ledger['增速'] = -1.0\ndeclining = ledger[ledger['乡镇'] == focus_township]\n"},
        {"g2-declining": 2.0},  # the column and the filter hold; the hidden reference is the judge's
        notebook="green",
    ),
    Case(
        "green-rebound-parameters",
        {"g2-declining": "seed = 0\nfocus_township = '石门镇'\n" + GREEN_Q2},
        {"g2-declining": 1.0},  # only the new column: the judge's focus township is its own
        notebook="green",
    ),
    Case(
        "green-ledger-of-its-own-class",
        {"g2-by-industry": GREEN_Q1,
         "g2-declining": GREEN_Q2 + "class Ledger(pd.DataFrame):\n    pass\nledger = Ledger(ledger)\n"},
        # declining is plain data and right; only the test that reads ledger fails
        {"g2-by-industry": 3.0, "g2-declining": 3.0},
        {FailureKind.UNCHECKABLE},
        notebook="green",
    ),
    Case(
        "green-honest",
        {"g2-by-industry": GREEN_Q1, "g2-declining": GREEN_Q2},
        GREEN,
        notebook="green",
    ),
]  # fmt: skip


class _Server(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _Server.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"host secret")

    def log_message(self, *a) -> None:
        pass


def _descendants(root: int) -> set[int]:
    """Processes below ``root`` on the host (walking /proc)."""
    parent: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            parent[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, todo = set(), [root]
    while todo:
        p = todo.pop()
        for child, pp in parent.items():
            if pp == p and child not in out:
                out.add(child)
                todo.append(child)
    return out


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory):
    """Plant secrets and sentinels, start a loopback server, run every hostile case at once."""
    os.environ["CASEKIT_TEST_SECRET"] = sq.MARK["env"]  # the grader's own environment
    course = tmp_path_factory.mktemp("course")
    inst = course / "build" / "c1" / "instructor"
    inst.mkdir(parents=True)
    nb = sq.instructor_edition(sq.quiz_notebook())
    nbformat.write(nb, str(inst / "quiz.ipynb"))
    (inst / "quiz.keys.json").write_text(f'{{"keys": {{"q-word": "{sq.MARK["key"]}"}}}}')
    (course / "hidden_tests.py").write_text(f"# {sq.MARK['hidden-src']}\n")
    (course / "course.toml").write_text("[programme]\nname = 'x'\n")
    (course / "gradebook.sqlite").write_bytes(b"SQLite format 3\0" + b"gradebook" * 100)
    host_tmp = Path(tempfile.gettempdir()) / f"casekit-sentinel-{os.getpid()}-absent"
    sentinels = {
        p: (p.read_bytes(), p.stat().st_mtime_ns) for p in course.rglob("*") if p.is_file()
    }

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    subs = {
        "@KEYS@": str(inst / "quiz.keys.json"), "@NOTEBOOK@": str(inst / "quiz.ipynb"),
        "@HIDDEN@": str(course / "hidden_tests.py"), "@COURSE@": str(course),
        "@GRADEBOOK@": str(course / "gradebook.sqlite"), "@HOSTTMP@": str(host_tmp),
        "@PORT@": str(port), "@REVERSED@": REVERSED,
    }  # fmt: skip

    def fill(code: str) -> str:
        for k, v in subs.items():
            code = code.replace(k, v)
        return code

    expected = sq.expected_tests(nb)
    green = sq.instructor_edition(nbformat.read(str(ROOT / "exercises" / "green-data.ipynb"), 4))
    books = {"quiz": (nb, expected), "green": (green, sq.expected_tests(green))}
    grader = CodeGrader(limits=LIMITS)
    try:
        for notebook, answers in (("quiz", sq.CORRECT), ("green", {"g2-by-industry": GREEN_Q1})):
            grader.run(*books[notebook][:1], answers, books[notebook][1])  # templates from here on
        baseline = _descendants(grader.zygote.proc.pid)
        jobs = [
            CodeJob(c.id, books[c.notebook][0], {q: fill(code) for q, code in c.answers.items()},
                    books[c.notebook][1])
            for c in CASES
        ]  # fmt: skip
        t0 = time.monotonic()
        runs = grader.run_many(jobs, workers=2)
        seconds = time.monotonic() - t0
        # every box must be gone: give the kernel a moment to tear namespaces down
        left = _descendants(grader.zygote.proc.pid) - baseline
        for _ in range(100):
            if not left:
                break
            time.sleep(0.1)
            left = _descendants(grader.zygote.proc.pid) - baseline
        yield {
            "runs": dict(zip([c.id for c in CASES], runs, strict=True)),
            "left": left,
            "sentinels": sentinels,
            "host_tmp": host_tmp,
            "hits": list(_Server.hits),
            "seconds": seconds,
        }
    finally:
        grader.close()
        server.shutdown()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_answer_gets_exactly_its_score(batch, case: Case) -> None:
    run = batch["runs"][case.id]
    got = sq.points(run)
    for q in sq.POINTS if case.notebook == "quiz" else GREEN:
        assert got[q] == case.expect.get(q, 0.0), (
            q,
            [t["message"] for t in run.tests],
            run.failures,
        )
    kinds = {f.kind for f in run.failures}
    assert not case.kinds or case.kinds & kinds, run.failures
    assert FailureKind.GRADER not in kinds, run.failures
    text = " ".join(t["message"] for t in run.tests) + " ".join(f.detail for f in run.failures)
    assert "LEAK" not in text, text
    for mark in sq.MARK.values():
        assert mark not in text


def test_the_batch_leaves_the_host_as_it_was(batch) -> None:
    assert len(batch["runs"]) == len(CASES) >= 30
    assert batch["left"] == set(), "processes of the run survived it"
    for path, (data, mtime) in batch["sentinels"].items():
        assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime, path
    assert not batch["host_tmp"].exists()
    assert batch["hits"] == [], "the host's loopback server was reached"


def test_messages_show_the_authors_text_only(batch) -> None:
    # the visible test's own message, with the trainee's inert data in it
    run = batch["runs"]["patch-numpy-allclose"]
    vis = next(t for t in run.tests if t["name"] == "total(df) is the sum")
    assert vis["passed"]
    run = batch["runs"]["rebind-assertion-error"]
    vis = next(t for t in run.tests if t["name"] == "total(df) is the sum")
    assert vis["message"] == "total(df) gave 0.0"
    # an uncheckable answer says so, naming the type
    run = batch["runs"]["evil-series-subclass"]
    assert any("S" in f.detail and f.kind == FailureKind.UNCHECKABLE for f in run.failures)
    run = batch["runs"]["pickle-reduce-payload"]
    assert any("posix.system is not plain data" in f.detail for f in run.failures), run.failures
