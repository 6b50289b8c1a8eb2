"""Hostile trainees, end to end: submissions that try to read secrets, forge results, outlive
the run, write outside their scratch folder, reach the network, exhaust resources or slip
bad input past the door.

Every case is one trainee of a real course (tests/fixtures/sandbox_quiz.py's notebook as
session ``quiz``, the sample course's green-data exercise as ``green-2``, a data file beside
them) and hands in the documented way: the course is built, a workbook is released to the
trainee, the answers go through the workbook runtime into its answer store (a crafted
store is written into the released workbook's store file), ``submit`` hands it in;
then one ``collect``, one ``grade`` (the real sandbox, two submissions at a time) and one
``feedback`` for the whole class.  Each case then checks the exact points it deserves and
the typed failure it caused, from the gradebook; the batch as a whole checks the host:
planted secrets unread (no marker in any message or page), course files and other
trainees' stored submissions untouched, honest trainees' rows exact and stable after
the run and after a rerun, the loopback server never reached, no process of the run left.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import sandbox_quiz as sq  # noqa: E402
from conftest import ROOT, run_cli  # noqa: E402

from kit.sandbox.answers import FailureKind  # noqa: E402

pytestmark = pytest.mark.xdist_group("hostile")

# A survivor names itself (/proc/<pid>/comm) so the batch can look for it afterwards.
NAME = "open('/proc/self/comm', 'w').write('cksurvivor')"
SLEEPER = f"{NAME}; import time; time.sleep(300)"


@dataclass
class Case:
    id: str
    answers: dict[str, Any]
    expect: dict[str, float]  # points per question
    kinds: set[FailureKind] = field(default_factory=set)  # one of these must be reported
    notebook: str = "quiz"  # or "green": the sample course's green-data exercise
    flags: set[str] = field(default_factory=set)  # flag codes the submission must carry
    craft: Callable[[dict[str, Any]], None] | None = None  # edits the answer store before submit
    claim: str | None = None  # the case whose trainee this workbook claims to be (impersonation)
    backdate: bool = False  # the receipt's time is rewritten after submit


# A probe collects what it finds in LEAKS; its answer then carries it into a message.
# The markers are spelt backwards in the probe's source: the probe must not find its own text.
PROBE = (
    "LEAKS = []\ndef leak(x):\n    LEAKS.append(str(x)[:300])\nMK = [s[::-1] for s in @REVERSED@]\n"
)
FUNC = (
    "def total(d):\n    if LEAKS:\n        return 'LEAK' + chr(58) + '|'.join(LEAKS)\n"
    "    return float(d['v'].sum())\n"
)
REVERSED = "[" + ", ".join(repr(v[::-1]) for v in sq.MARK.values()) + "]"


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
            "q-data": "import os, pickle, kit.sandbox.safepickle as sp\nclass Boom:\n"
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
            "q-func": "import gc, socket\nfrom kit.execution.zygote import send_frame\n"
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
        probe(
            f"import os, time\nif os.fork() == 0:\n    {NAME}\n    time.sleep(300)\n    os._exit(0)"
        ),
        FULL,
    ),
    Case(
        "setsid-double-fork",
        probe(
            "import os, time, signal\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f"        {NAME}\n"
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
            f"import subprocess, sys\nS = {SLEEPER!r}\n"
            "subprocess.Popen([sys.executable, '-c', S], start_new_session=True)\n"
            "subprocess.Popen(['sh', '-c', 'nohup \"$0\" -c \"$1\" >/dev/null 2>&1 &', sys.executable, S])"
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
            "import os, time\ntry:\n    while True:\n        if os.fork() == 0:\n"
            f"            {NAME}\n            time.sleep(300)\n"
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
        {"q-data": "import numpy\nsummary = numpy.zeros(10 ** 7)\n"},  # 80 MB: over answer_mb
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


# Writing into what other trainees handed in, and honest use of the data beside the notebook.
CASES += [
    Case(
        "write-another-trainees-submission",
        probe(
            "import os\nfor d in ['@STORE@', '@INBOX@']:\n"
            "    for root, dirs, files in os.walk(d):\n"
            "        for n in files:\n"
            "            try:\n                open(os.path.join(root, n), 'w').write('{}')\n"
            "                leak('wrote ' + n)\n            except Exception:\n                pass\n"
            "    if os.path.isdir(d):  # the host's /tmp is not the box's: seeing it is a leak\n"
            "        leak('sees ' + d)"
        ),
        FULL,
    ),
    Case(
        "honest-reads-the-data-beside-the-notebook",
        {"q-data": "summary = pd.read_csv('data/ledger.csv').groupby('g')['v'].sum()\n"},
        {"q-data": 3.0},
    ),
]


# Input checked at the door: what the workbook cannot produce, written into the answer store.
def _set(qid: str, value: Any, kind: str) -> Callable[[dict[str, Any]], None]:
    def craft(store: dict[str, Any]) -> None:
        store["answers"][qid] = {"value": value, "at": "2026-03-01T00:00:00+00:00", "kind": kind}

    return craft


CASES += [
    Case(
        "rating-off-its-scale",
        {"g2-by-industry": GREEN_Q1},
        {"g2-by-industry": 3.0, "g2-eval": 0.0},
        notebook="green",
        flags={"invalid-answer"},
        craft=_set("g2-eval", 99, "rating"),
    ),
    Case(
        "nul-in-a-number",
        {"g2-by-industry": GREEN_Q1},
        {"g2-by-industry": 3.0, "g2-total-growth": 0.0},
        notebook="green",
        flags={"control-characters"},
        craft=_set("g2-total-growth", "5.5\x00", "number"),
    ),
    Case(
        "control-characters-in-an-essay",
        {"g2-by-industry": GREEN_Q1},
        {"g2-by-industry": 3.0},
        notebook="green",
        flags={"control-characters"},
        craft=_set("g2-advice", "第一条\x00建议\x1b[31m红色\x07", "essay"),
    ),
]
# Identity and time come from the exchange (kit.exchange.trust): a workbook released to one
# trainee is filed under that trainee only, and the hand-in time is the exchange's.
CASES += [
    Case("honest-quiz", sq.CORRECT, dict(sq.POINTS)),
    Case(
        "impersonate-the-honest-trainee",
        {"q-func": "def total(d):\n    return 0.0\n"},
        {},  # refused at collect: nothing filed, for the impostor or the victim
        claim="honest-quiz",
    ),
    Case(
        "backdate-a-late-hand-in", {"q-func": FUNC.replace("if LEAKS", "if False")}, FULL,
        notebook="late", backdate=True,
    ),
    Case(
        "late-hand-in-as-it-is", {"q-func": FUNC.replace("if LEAKS", "if False")}, FULL,
        notebook="late",
    ),
]  # fmt: skip
HONEST = {"honest-quiz", "green-honest"}  # handed in and collected before the others
REFUSED = {"impersonate-the-honest-trainee"}
SESSION = {"quiz": "quiz", "green": "green-2", "late": "late-quiz"}
LONG_AGO = "2020-01-01T00:00:00.000+00:00"


class _Server(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _Server.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"host secret")

    def log_message(self, *a) -> None:
        pass


def _survivors() -> list[int]:
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if Path(f"/proc/{d}/comm").read_text().strip() == "cksurvivor":
                    found.append(int(d))
            except OSError:
                continue
    return found


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


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def write_course(root: Path, trainees: list[str]) -> Path:
    """A course with the two sessions, a data file beside them and one trainee per case."""
    (root / "catalog").mkdir(parents=True)
    (root / "exercises" / "data").mkdir(parents=True)
    (root / "course.toml").write_text(
        '[programme]\nname = "沙箱测试"\nlanguage = "zh"\n\n'
        '[[units]]\nid = "green"\nname = "经济建设"\ncolour = "#2e7d32"\n\n'
        "[defaults]\ncell_timeout = 30\nnotebook_timeout = 120\nmemory_mb = 400\n\n"
        "[grading]\ncell_timeout = 5\nnotebook_timeout = 40\n",
        encoding="utf-8",
    )
    (root / "catalog/faculty.csv").write_text(
        "id,name,kind,title,unit,speciality\nf1,林晓峰,scholar,教授,green,县域经济\n", "utf-8"
    )
    (root / "catalog/sites.csv").write_text("id,name,category,address,contact_role,unit\n", "utf-8")
    (root / "catalog/methods.csv").write_text("id,name,interactive\ndrill,演练,true\n", "utf-8")
    nbformat.write(sq.quiz_notebook(), str(root / "exercises/quiz.ipynb"))
    shutil.copy(ROOT / "exercises" / "green-data.ipynb", root / "exercises/green-data.ipynb")
    from kit.course import stable_seed

    ns: dict[str, Any] = {"seed": stable_seed("c1")}  # the seed the build injects
    exec(sq.SETUP.replace("from kit.questions import ask, key, test", ""), ns)
    ns["df"].to_csv(root / "exercises/data/ledger.csv", index=False)
    (root / "secret.txt").write_text(f"{sq.MARK['key']}\n", encoding="utf-8")
    d = root / "cohorts" / "c1"
    d.mkdir(parents=True)
    (d / "cohort.toml").write_text('name = "沙箱一班"\n', encoding="utf-8")
    rows = ["id,name,department,township,group"]
    rows += [f"{t},学员{i + 1},发改局,东山镇,G1" for i, t in enumerate(trainees)]
    (d / "roster.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (d / "schedule.csv").write_text(
        "session,notebook,date,teacher,site,method,unit,hours,mode,due,params\n"
        "quiz,exercises/quiz.ipynb,2026-03-02,f1,,drill,green,2,assessed,2099-03-03T06:00,{}\n"
        "green-2,exercises/green-data.ipynb,2026-03-04,f1,,drill,green,3,assessed,"
        '2099-03-05T06:00,"{""focus_township"": ""枣林镇""}"\n'
        "late-quiz,exercises/quiz.ipynb,2026-03-06,f1,,drill,green,2,assessed,2026-03-07T06:00,{}\n",
        encoding="utf-8",
    )
    return root


def _hand_in(
    course: Any, trainee: str, case: Case, fill: Callable[[str], str], victim: str | None = None
) -> None:
    """Release, answer through the workbook runtime (or a crafted store), submit."""
    from kit import artifacts, workbook

    session = SESSION[case.notebook]
    keys, _ = artifacts.read_keys(artifacts.build_paths(course, "c1", session).keys)
    specs = keys.specs()
    wb = artifacts.outbox_path(course.exchange_dir, "c1", trainee, session)
    store = artifacts.answers_path(wb)
    rt = workbook.open_workbook(
        session, trainee=trainee, cohort="c1", exchange=course.exchange_dir, language="zh",
        store=store,
    )  # fmt: skip
    try:
        for qid, value in case.answers.items():
            rt.save(qid, fill(value) if isinstance(value, str) else value, specs[qid]["kind"])
    finally:
        workbook.close_workbook()
    if case.craft is not None:
        doc = json.loads(store.read_text("utf-8"))
        case.craft(doc)
        store.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    if victim is not None:  # store header and notebook metadata both claim the victim
        doc = json.loads(store.read_text("utf-8"))
        doc["trainee"] = victim
        store.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
        nb = json.loads(wb.read_text("utf-8"))
        nb["metadata"]["casekit"]["trainee"] = victim
        wb.write_text(json.dumps(nb, ensure_ascii=False), "utf-8")
    receipt = workbook.submit(wb)
    if case.backdate:
        path = receipt.folder / "receipt.json"
        doc = json.loads(path.read_text("utf-8"))
        doc["received_at"] = LONG_AGO
        path.write_text(json.dumps(doc), "utf-8")


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory):
    """Build the course, hand every case in, collect, grade and write feedback once."""
    from kit import artifacts, workbook
    from kit.builder import build
    from kit.course import load_course
    from kit.gradebook import Gradebook
    from kit.grading import collect, feedback, grade, grades

    trainees = {c.id: f"h{i:02d}" for i, c in enumerate(CASES, 1)}
    root = write_course(tmp_path_factory.mktemp("course"), list(trainees.values()))
    built = build(root, "c1", progress=False)
    assert not built.failures, built.failures
    course = load_course(root)
    assert not workbook.release(course, "c1").failures

    os.environ["CASEKIT_TEST_SECRET"] = sq.MARK["env"]  # the grader's own environment
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    paths = artifacts.build_paths(course, "c1", "quiz")
    honest_store = artifacts.store_dir(course, "c1")
    host_tmp = Path(tempfile.gettempdir()) / f"casekit-sentinel-{os.getpid()}-absent"
    subs = {
        "@KEYS@": str(paths.keys), "@NOTEBOOK@": str(paths.instructor),
        "@HIDDEN@": str(root / "secret.txt"), "@COURSE@": str(root),
        "@GRADEBOOK@": str(root / "gradebook.sqlite"), "@HOSTTMP@": str(host_tmp),
        "@PORT@": str(server.server_address[1]), "@REVERSED@": REVERSED,
        "@STORE@": str(honest_store), "@INBOX@": str(artifacts.inbox_dir(course.exchange_dir, "c1")),
    }  # fmt: skip

    def fill(code: str) -> str:
        for k, v in subs.items():
            code = code.replace(k, v)
        return code

    try:
        handed_in_after = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
        # the honest trainees hand in and are collected first: the others then try to reach them
        for case in CASES:
            if case.id in HONEST:
                _hand_in(course, trainees[case.id], case, fill)
        assert not collect(course, "c1").failures
        for case in CASES:
            if case.id not in HONEST:
                victim = trainees[case.claim] if case.claim else None
                _hand_in(course, trainees[case.id], case, fill, victim)
        before = {
            "course": _tree_digest(root / "build"),
            "config": (root / "course.toml").read_bytes(),
            "honest": _tree_digest(honest_store),
        }
        collected = collect(course, "c1")
        assert not collected.failures and not collected.unknown, collected
        assert len(collected.written) == len(CASES) - len(HONEST) - len(REFUSED), collected
        mine = _descendants(os.getpid())
        t0 = time.monotonic()
        graded = grade(course, "c1", workers=2, progress=False)
        seconds = time.monotonic() - t0
        with Gradebook.open(root) as gb:
            right_after = gb.snapshot("c1")
        time.sleep(3)  # a sleeper that waited for the grader to finish would act now
        left = (_descendants(os.getpid()) - mine) | set(_survivors())
        for _ in range(50):
            if not left:
                break
            time.sleep(0.2)
            left = (_descendants(os.getpid()) - mine) | set(_survivors())
        after = {
            "course": _tree_digest(root / "build"),
            "config": (root / "course.toml").read_bytes(),
            "honest": {
                k: v for k, v in _tree_digest(honest_store).items() if k in before["honest"]
            },
        }
        again = grade(course, "c1", workers=2, progress=False)
        pages = feedback(course, "c1")
        xlsx = grades(course, "c1", root / "out" / "grades.xlsx")
        with Gradebook.open(root) as gb:
            yield {
                "trainees": trainees,
                "graded": graded,
                "again": again,
                "seconds": seconds,
                "right_after": right_after,
                "later": gb.snapshot("c1"),
                "questions": gb.question_scores("c1"),
                "scores": gb.submission_scores("c1"),
                "submissions": gb.submissions("c1"),
                "collected": collected,
                "handed_in_after": handed_in_after,
                "tests": gb.tests("c1"),
                "failures": gb.failures("c1"),
                "flags": gb.flags("c1"),
                "pages": {p.parent.name + "/" + p.stem: p.read_text("utf-8") for p in pages.written},
                "page_failures": pages.failures,
                "xlsx": xlsx,
                "left": left,
                "before": before,
                "after": after,
                "host_tmp": host_tmp,
                "hits": list(_Server.hits),
                "root": root,
            }  # fmt: skip
    finally:
        server.shutdown()
        os.environ.pop("CASEKIT_TEST_SECRET", None)


def _of(batch: dict, frame: str, case: Case) -> Any:
    df = batch[frame]
    return df[df["trainee"] == batch["trainees"][case.id]]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_submission_gets_exactly_its_score(batch, case: Case) -> None:
    if case.id in REFUSED:  # nothing of it was filed, under anyone
        assert _of(batch, "submissions", case).empty
        return
    qs = _of(batch, "questions", case)
    qs = qs[qs["session"] == SESSION[case.notebook]]
    got = dict(zip(qs["question"], qs["points"], strict=True))
    tests = _of(batch, "tests", case)
    failures = _of(batch, "failures", case)
    code = {q: 0.0 for q in (GREEN if case.notebook == "green" else sq.POINTS)}
    for q, want in {**code, **case.expect}.items():
        assert got[q] == want, (q, tests[["name", "passed", "message"]].values.tolist(), failures)
    kinds = set(failures["kind"])
    assert not case.kinds or {str(k) for k in case.kinds} & kinds, failures
    assert str(FailureKind.GRADER) not in kinds, failures
    assert case.flags <= set(_of(batch, "flags", case)["code"]), _of(batch, "flags", case)
    text = " ".join(tests["message"]) + " ".join(failures["detail"])
    page = batch["pages"][f"{batch['trainees'][case.id]}/{SESSION[case.notebook]}"]
    assert "LEAK:" not in text + page, text  # what a probe returns when it found something
    for what, mark in sq.MARK.items():
        assert mark not in text
        # past the due time the author's setting shows the key on the page: that is no leak
        assert mark not in page or (what == "key" and case.notebook == "late")


def test_the_batch_completes_and_leaves_the_host_as_it_was(batch) -> None:
    assert len(CASES) >= 30
    graded = batch["graded"]
    assert not graded.failures, graded.failures
    assert len(graded.statuses) == len(CASES) - len(REFUSED)
    assert batch["left"] == set(), "processes of the run survived it"
    assert batch["before"] == batch["after"], "the build, the course or a stored submission changed"
    assert not batch["host_tmp"].exists()
    assert batch["hits"] == [], "the host's loopback server was reached"
    assert not batch["page_failures"] and len(batch["pages"]) == len(CASES) - len(REFUSED)


def test_nobody_changes_the_gradebook_after_the_run(batch) -> None:
    # what the run wrote is what stands a while later, and a rerun finds nothing to do
    assert batch["later"] == batch["right_after"]
    assert not batch["again"].graded
    assert len(batch["again"].skipped) == len(CASES) - len(REFUSED)


def test_the_honest_trainees_rows_are_exact(batch) -> None:
    for case in CASES:
        if case.id in HONEST:
            qs = _of(batch, "questions", case)
            code = qs[qs["kind"] == "code"]
            assert dict(zip(code["question"], code["points"], strict=True)) == case.expect
            assert _of(batch, "flags", case).empty and _of(batch, "failures", case).empty


def test_pages_say_why_in_the_course_language(batch) -> None:
    page = batch["pages"][f"{batch['trainees']['sys-exit-with-a-wrong-answer']}/quiz"]
    assert "提前结束了程序" in page  # sys.exit() is named as such, not "did not run"
    page = batch["pages"][f"{batch['trainees']['cpu-loop']}/quiz"]
    assert "运行超时" in page
    page = batch["pages"][f"{batch['trainees']['evil-series-subclass']}/quiz"]
    assert "无法检查" in page
    for text in batch["pages"].values():
        assert "Your code" not in text and "grader had a problem" not in text


def test_messages_show_the_authors_text_only(batch) -> None:
    def test_of(case_id: str, name: str) -> dict:
        df = batch["tests"]
        df = df[(df["trainee"] == batch["trainees"][case_id]) & (df["name"] == name)]
        return df.iloc[0].to_dict()

    assert test_of("patch-numpy-allclose", "total(df) is the sum")["passed"]
    assert (
        test_of("rebind-assertion-error", "total(df) is the sum")["message"] == "total(df) gave 0.0"
    )
    f = batch["failures"]
    mine = f[f["trainee"] == batch["trainees"]["pickle-reduce-payload"]]
    assert any("posix.system is not plain data" in d for d in mine["detail"]), mine


def test_input_at_the_door(batch) -> None:
    qs = batch["questions"]
    row = qs[
        (qs["trainee"] == batch["trainees"]["rating-off-its-scale"]) & (qs["question"] == "g2-eval")
    ]
    assert row["answer"].tolist() == ["null"]  # refused: never averaged into the evaluation
    row = qs[(qs["trainee"] == batch["trainees"]["control-characters-in-an-essay"])
             & (qs["question"] == "g2-advice")]  # fmt: skip
    assert json.loads(row["answer"].iloc[0]) == "第一条建议[31m红色"
    # the export is whole: every sheet opens, nothing of a control character in it
    import openpyxl

    from kit.messages import section

    book = openpyxl.load_workbook(batch["xlsx"].written[0])
    sheets = section("sheet", "zh")
    assert book.sheetnames == [sheets[k] for k in ("grades", "questions", "rubric", "sessions")]
    assert not list(batch["xlsx"].written[0].parent.glob(".*.tmp"))


def test_identity_and_time_come_from_the_exchange(batch) -> None:
    refused = batch["collected"].refused
    assert len(refused) == 1 and "release token" in refused[0], refused
    subs = batch["submissions"]
    victim = batch["trainees"]["honest-quiz"]
    assert len(subs[subs["trainee"] == victim]) == 1  # the impostor replaced nothing
    scores = batch["scores"]

    def late(case_id: str) -> dict:
        row = scores[scores["trainee"] == batch["trainees"][case_id]]
        return row.iloc[0].to_dict()

    backdated, honest = late("backdate-a-late-hand-in"), late("late-hand-in-as-it-is")
    assert backdated["received_at"] >= batch["handed_in_after"], "the backdated time was believed"
    assert backdated["days_late"] > 0 and backdated["penalty"] == honest["penalty"] > 0
    assert backdated["points"] == honest["points"] < 3.0


# ================================================================ intake (#19)
# Hand-ins nobody can forge or stall, and a course no other account can read: every way a
# hand-in reaches the store checks who it belongs to, bad input quarantines that one hand-in,
# and a real second account of the machine can neither read the course nor hand in as another.

INTAKE = ["i01", "i02", "i03", "i04", "i05"]  # i01, i02 honest; i05 never hands in
DEEP = 200_000


def _store_doc(trainee: str, answers: dict[str, Any]) -> dict[str, Any]:
    at = "2026-03-02T10:00:00+00:00"
    return {
        "workbook": "quiz.ipynb", "trainee": trainee, "session": "quiz", "cohort": "c1",
        "answers": {q: {"value": v, "at": at, "kind": "code"} for q, v in answers.items()},
    }  # fmt: skip


def _plant(folder: Path, files: dict[str, bytes]) -> None:
    """Write files straight into the inbox, as a trainee with a shell on the machine could."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def _as(user: str, script: str, **env: str) -> subprocess.CompletedProcess:
    """Run a shell script as another local account (the test runs as root)."""
    return subprocess.run(
        ["runuser", "-u", user, "--", "env", *(f"{k}={v}" for k, v in env.items()),
         "sh", "-c", script],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def intake(tmp_path_factory: pytest.TempPathFactory):
    """One course, honest and hostile hand-ins through every intake path, a real second account."""
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("needs root and useradd to create a second local account")
    from kit import artifacts, workbook
    from kit.builder import build
    from kit.course import load_course
    from kit.gradebook import Gradebook
    from kit.grading import collect, feedback, grade, grades

    intruder = f"ck-intruder-{secrets.token_hex(3)}"
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", intruder], check=True
    )
    # a course another account can reach, as on a shared machine (pytest's own tmp is 0700)
    base = Path(tempfile.mkdtemp(prefix="ck-intake-"))
    try:
        os.chmod(base, 0o755)
        root = write_course(base / "course", [*INTAKE, intruder])
        os.chmod(root, 0o755)
        assert not build(root, "c1", sessions=["quiz"], progress=False).failures
        course = load_course(root)
        modes = {"after build": _modes(root)}
        assert not workbook.release(course, "c1", sessions=["quiz"]).failures
        modes["after release"] = _modes(root)
        inbox = artifacts.inbox_dir(course.exchange_dir, "c1")
        outbox = course.exchange_dir / "c1" / "outbox"
        honest = Case("honest", sq.CORRECT, dict(sq.POINTS))
        for t in ("i01", "i02"):
            _hand_in(course, t, honest, lambda s: s)
        # i04: an essay with a zero-width space and 1,500 made-up answer ids (under the cap)
        extra = {f"made-up-{i}": {"value": 1, "at": LONG_AGO} for i in range(1500)}

        def essay(doc: dict[str, Any]) -> None:
            doc["answers"]["q-word"] = {"value": "增长\u200b质量", "at": LONG_AGO}
            doc["answers"].update(extra)

        _hand_in(course, "i04", Case("essay", {"q-func": sq.CORRECT["q-func"]}, {}, craft=essay),
                 lambda s: s)  # fmt: skip
        first = collect(course, "c1")
        assert len(first.written) == 3 and not first.refused, first
        assert not grade(course, "c1", workers=2, progress=False).failures
        modes["after collect"] = _modes(root)

        own = (outbox / "i03" / "quiz.ipynb").read_bytes()
        wb_i03 = json.loads(own)
        # 1. an answers.json planted in another trainee's inbox folder: no workbook, no token
        _plant(inbox / "i02" / "quiz" / "planted",
               {"answers.json": json.dumps(_store_doc("i02", {"q-func": "total = 0"})).encode()})  # fmt: skip
        # 2. a workbook padded past what collect reads, its store claiming another trainee
        padded = json.loads(own)
        padded["metadata"]["casekit"]["trainee"] = "i01"
        padded["metadata"]["padding"] = "x" * (61 * 2**20)
        _plant(inbox / "i01" / "quiz" / "padded", {
            "workbook.ipynb": json.dumps(padded).encode(),
            "answers.json": json.dumps(_store_doc("i01", {"q-func": "total = 0"})).encode(),
        })  # fmt: skip
        # 3. a workbook nested 200,000 levels deep, handed in with `submit`
        wb = outbox / "i03" / "quiz.ipynb"
        store = artifacts.answers_path(wb)
        store.write_text(json.dumps(_store_doc("i03", {"q-func": "x = 1"})), "utf-8")
        wb.write_bytes(b"[" * DEEP + b"]" * DEEP)
        workbook.submit(wb)
        # 4. a deeply nested answers.json, 5. a million made-up answer ids
        deep = (
            b'{"trainee": "i03", "session": "quiz", "answers": ' + b"[" * DEEP + b"]" * DEEP + b"}"
        )
        _plant(
            inbox / "i03" / "quiz" / "deep-answers", {"workbook.ipynb": own, "answers.json": deep}
        )
        million = _store_doc("i03", {})
        million["answers"] = {str(i): 0 for i in range(10**6)}  # 12 MB: read, then counted
        _plant(inbox / "i03" / "quiz" / "million",
               {"workbook.ipynb": own, "answers.json": json.dumps(million).encode()})  # fmt: skip
        # 6. a file name that drives the terminal
        _plant(inbox / "i02" / "quiz" / "\x1b]0;pwned\x07\x1b[2J",
               {"answers.json": json.dumps(_store_doc("i02", {})).encode()})  # fmt: skip
        # 7. plain broken JSON in i03's own hand-in: stored, failed as i03's own, never retried
        _plant(inbox / "i03" / "quiz" / "broken",
               {"workbook.ipynb": json.dumps(wb_i03).encode(), "answers.json": b"{not json"})  # fmt: skip

        # 8. a real second account: reads what it can, hands in as others, then as itself
        paths = artifacts.build_paths(course, "c1", "quiz")
        reads = {
            what: _as(intruder, f'cat "{p}" > /dev/null')
            for what, p in {
                "keys": paths.keys, "instructor edition": paths.instructor,
                "secret": artifacts.secret_path(root), "gradebook": root / "gradebook.sqlite",
                "victim's workbook": outbox / "i01" / "quiz.ipynb",
                "stored hand-in": next((root / "submissions/c1/i01/quiz").iterdir()) / "answers.json",
            }.items()
        }  # fmt: skip
        reads["list the inbox"] = _as(intruder, f'ls "{inbox}"')
        reads["list the store"] = _as(intruder, f'ls "{root / "submissions"}"')
        mine = outbox / intruder / "quiz.ipynb"
        claim = json.dumps(_store_doc("i05", {"q-func": "total = 0"}))
        as_i05 = _as(intruder, f"""
            set -e; d="{inbox}/i05/quiz/as-i05"; mkdir -p "$d"
            sed 's/"trainee": "{intruder}"/"trainee": "i05"/' "{mine}" > "$d/workbook.ipynb"
            printf '%s' "$CLAIM" > "$d/answers.json" """, CLAIM=claim)  # fmt: skip
        into_i01 = _as(
            intruder,
            f'mkdir -p "{inbox}/i01/quiz/x" && echo {{}} > "{inbox}/i01/quiz/x/answers.json"',
        )
        own_answers = json.dumps(_store_doc(intruder, sq.CORRECT))
        as_self = _as(intruder, f"""
            set -e; d="{inbox}/{intruder}/quiz/mine"; mkdir -p "$d"
            cp "{mine}" "$d/workbook.ipynb"; printf '%s' "$ANS" > "$d/answers.json" """,
            ANS=own_answers)  # fmt: skip

        with Gradebook.open(root) as gb:
            before = gb.submission_scores("c1")
        collected = collect(course, "c1")
        cli = run_cli("collect", "c1", "-C", str(root), "--lang", "en")
        graded = grade(course, "c1", workers=2, progress=False)
        again = grade(course, "c1", workers=2, progress=False)
        pages = feedback(course, "c1")
        xlsx = grades(course, "c1", root / "out" / "grades.xlsx")
        modes["after grade"] = _modes(root)
        with Gradebook.open(root) as gb:
            from kit.gradebook import Submission

            sources = {s.trainee: s.source for s in gb.session.query(Submission).all()}
            yield {
                "sources": sources,
                "root": root, "intruder": intruder, "first": first, "collected": collected,
                "cli": cli, "graded": graded, "again": again, "pages": pages, "xlsx": xlsx,
                "reads": reads, "as_i05": as_i05, "into_i01": into_i01, "as_self": as_self,
                "before": before, "scores": gb.submission_scores("c1"),
                "questions": gb.question_scores("c1"), "subs": gb.submissions("c1"),
                "flags": gb.flags("c1"), "failures": gb.failures("c1"), "modes": modes,
            }  # fmt: skip
    finally:
        subprocess.run(["userdel", intruder], check=False)
        shutil.rmtree(base, ignore_errors=True)


def _modes(root: Path) -> dict[str, tuple[int, int]]:
    """(mode, owner uid) of every file and folder of a course, by relative path."""
    out = {}
    for p in [root, *root.rglob("*")]:
        st = p.lstat()
        out[p.relative_to(root).as_posix() or "."] = (stat.S_IMODE(st.st_mode), st.st_uid)
    return out


def _refusal(intake: dict, folder: str) -> str:
    found = [r for r in intake["collected"].refused if f"/{folder}" in r]
    assert len(found) == 1, (folder, intake["collected"].refused)
    return found[0]


def test_intake_refuses_what_it_cannot_identify_and_replaces_nobody(intake) -> None:
    assert "no workbook, no release token" in _refusal(intake, "planted")
    assert "larger than" in _refusal(intake, "padded")  # not read, so not believed either
    assert "written by the local account" in _refusal(intake, "as-i05")
    subs = intake["subs"]
    assert subs[subs["trainee"] == "i05"].empty  # the intruder filed nothing under i05
    assert intake["into_i01"].returncode != 0  # another trainee's inbox folder is not writable
    for t in ("i01", "i02"):  # the honest rows: one hand-in each, full points, exactly as before
        assert len(subs[subs["trainee"] == t]) == 1
        qs = intake["questions"]
        qs = qs[(qs["trainee"] == t) & (qs["kind"] == "code")]
        assert dict(zip(qs["question"], qs["points"], strict=True)) == sq.POINTS
    before, after = intake["before"], intake["scores"]
    for t in ("i01", "i02", "i04"):
        assert (
            before[before["trainee"] == t]["points"].tolist()
            == after[after["trainee"] == t]["points"].tolist()
        )
    for line in intake["collected"].refused:  # kept apart with the cause, never graded
        assert "quarantine" in line, line
    causes = [json.loads(p.read_text("utf-8"))["cause"]
              for p in (intake["root"] / "quarantine" / "c1").glob("*/cause.json")]  # fmt: skip
    collected = intake["collected"]
    assert len(causes) == len(collected.refused) + len(collected.unknown), causes


def test_intake_bad_input_is_the_submitters_problem(intake) -> None:
    assert "nested deeper than" in _refusal(intake, "i03/quiz/2")  # the submitted deep workbook
    assert "nested deeper than" in _refusal(intake, "deep-answers")
    assert "1000000 answers" in _refusal(intake, "million")
    # i03's plain broken JSON: stored, failed as i03's own (unreadable), recorded once
    scores = intake["scores"]
    row = scores[scores["trainee"] == "i03"].iloc[0]
    assert row["status"] == "failed" and "answers.json" in row["cause"]
    f = intake["failures"]
    assert set(f[f["trainee"] == "i03"]["kind"]) == {str(FailureKind.UNREADABLE)}
    assert "i03/quiz" in intake["again"].skipped and not intake["again"].failures
    # the cohort went on: every honest trainee graded, feedback and export written
    assert not [x for x in intake["graded"].failures if not x.item.startswith("i03")]
    assert not intake["pages"].failures and intake["xlsx"].written
    # 1,500 made-up answer ids are one flag, not 1,500 rows; a zero-width space is flagged
    flags = intake["flags"]
    mine = flags[flags["trainee"] == "i04"]
    unknown = mine[mine["code"] == "unknown-question"]
    assert len(unknown) == 1 and "1500" in unknown.iloc[0]["message"], unknown
    assert "U+200B" in " ".join(mine[mine["code"] == "invisible-characters"]["message"])


def test_intake_terminal_output_is_escaped(intake) -> None:
    cli = intake["cli"]
    assert cli.returncode != 0  # refused hand-ins make collect say so
    assert "\x1b" not in cli.stdout + cli.stderr and "\x07" not in cli.stdout + cli.stderr
    assert "\\x1b]0;pwned\\x07" in cli.stderr.replace("\n", ""), cli.stderr
    for line in intake["collected"].refused + intake["collected"].unknown:
        assert "\x1b" not in line


def test_a_second_account_cannot_read_the_course_and_is_its_own_identity(intake) -> None:
    for what, r in intake["reads"].items():
        assert r.returncode != 0 and "Permission denied" in r.stderr, (what, r)
    assert intake["as_self"].returncode == 0, intake["as_self"].stderr
    subs, me = intake["subs"], intake["intruder"]
    mine = subs[subs["trainee"] == me]
    assert len(mine) == 1 and intake["sources"][me].endswith("(local-account)")
    qs = intake["questions"]
    qs = qs[(qs["trainee"] == me) & (qs["kind"] == "code")]
    assert dict(zip(qs["question"], qs["points"], strict=True)) == sq.POINTS
    # everyone else handed in from the course owner's account: the row says so
    honest = subs[subs["trainee"] == "i01"].iloc[0]
    assert intake["sources"]["i01"].endswith("(shared-account)")
    receipt = json.loads((intake["root"] / honest["path"] / "receipt.json").read_text("utf-8"))
    assert receipt["collected"]["identity"] == "shared-account"


def test_default_permissions_after_build_release_collect_and_grade(intake) -> None:
    from kit.builder import check

    me = intake["intruder"]
    for when, modes in intake["modes"].items():
        for rel, (mode, _) in modes.items():
            top = rel.split("/")[0]
            if top in ("build", "submissions", "quarantine", ".casekit") and "/" not in rel:
                assert mode == 0o700, (when, rel, oct(mode))
        if "gradebook.sqlite" in modes:
            assert modes["gradebook.sqlite"][0] == 0o600, when
    after = intake["modes"]["after grade"]
    assert after["exchange"][0] == 0o711 and after["exchange/c1"][0] == 0o711
    assert after["exchange/c1/inbox"][0] == 0o3733  # a drop box: write, never list
    uid = pwd.getpwnam(me).pw_uid
    assert after[f"exchange/c1/outbox/{me}"] == (0o700, uid)
    assert after[f"exchange/c1/outbox/{me}/quiz.ipynb"] == (0o600, uid)
    assert after["exchange/c1/outbox/i01/quiz.ipynb"][0] == 0o600
    # an existing course opened to others: check names the folder and the chmod
    root = intake["root"]
    os.chmod(root / "build", 0o755)
    try:
        found = [p for p in check(root).problems if p.field == "open-to-others"]
    finally:
        os.chmod(root / "build", 0o700)
    assert len(found) == 1 and found[0].file == str(root / "build"), found
    assert f"chmod 700 {root / 'build'}" in found[0].fix


def test_ids_refuse_invisible_characters() -> None:
    from kit.untrusted import id_problem, printable

    assert id_problem("i01") is None
    for bad in ("i0\u202e1", "i0\u200b1", "\u2066i01", "..", "a/b"):
        assert id_problem(bad), bad
    assert printable("a\x1b[2Jb\u202e") == "a\\x1b[2Jb\\u202e"
