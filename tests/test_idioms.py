"""Test idioms of nbgrader, otter-grader and PrairieLearn: the boxes give what the notebook gives.

Each idiom is a code question with the author's solution, tests written the
way those tools' documentation writes them (plain asserts with messages,
``del`` then a call, ``isinstance(g, types.GeneratorType)``, a reference
function compared over inputs, ``np.random.seed`` before a call, reading a
figure's axes, reading a file the answer wrote, ...), and a wrong answer.
Every idiom is graded twice — top to bottom in one unsandboxed executor run
(the instructor edition with the answers pasted in: what the notebook means)
and through the two boxes (``kit.sandbox.supervisor.CodeGrader``) — and must get the
same points; the solution must earn every point both ways, the wrong answer
must lose some (so the idiom's test can fail).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import sandbox_quiz as sq  # noqa: E402

pytestmark = pytest.mark.xdist_group("sandbox")


@dataclass(frozen=True)
class Idiom:
    """One question: its solution, its tests (bodies of ``@test`` functions) and a wrong answer."""

    id: str
    style: str  # whose documentation the tests are written after
    solution: str
    tests: tuple[str, ...]
    wrong: str


SETUP = """\
import contextlib, inspect, io, itertools, os, random, types
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from kit.questions import ask, test

sales = pd.DataFrame({"region": list("ABAB"), "amount": [3.0, 5.0, 4.0, 6.0]})
"""

I = Idiom  # noqa: E741 - a table reads better with a short name
IDIOMS = [
    # ---------------------------------------------------------------- nbgrader
    I("squares", "nbgrader",
      "def squares(n):\n    if n < 1:\n        raise ValueError('n must be at least 1')\n"
      "    return [i ** 2 for i in range(1, n + 1)]",
      ("assert squares(1) == [1]\nassert squares(2) == [1, 4]",
       "assert squares(10) == [1, 4, 9, 16, 25, 36, 49, 64, 81, 100], 'squares(10) is wrong'",
       "try:\n    squares(0)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError('did not raise')"),
      "def squares(n):\n    return list(range(n))"),
    I("sum-of-squares", "nbgrader",
      "def sum_of_squares(n):\n    return sum(squares(n))",
      ("assert sum_of_squares(1) == 1\nassert sum_of_squares(10) == 385",
       "global squares\norig_squares = squares\ndel squares\ntry:\n    sum_of_squares(1)\n"
       "except NameError:\n    pass\nelse:\n    raise AssertionError('sum_of_squares does not use squares')\n"
       "finally:\n    squares = orig_squares"),
      "def sum_of_squares(n):\n    return sum(i * i for i in range(1, n + 1))"),
    I("uses-helper-rebound", "nbgrader",
      "def double(x):\n    return 2 * x\n\ndef double_all(xs):\n    return [double(x) for x in xs]",
      ("global double\nkeep = double\ndouble = lambda x: 0\ntry:\n"
       "    assert double_all([1, 2]) == [0, 0], 'double_all does not call double'\n"
       "finally:\n    double = keep",
       "assert double_all([1, 2]) == [2, 4]"),
      "def double(x):\n    return 2 * x\n\ndef double_all(xs):\n    return [2 * x for x in xs]"),
    I("allclose", "nbgrader",
      "def mean_of(xs):\n    return float(np.mean(xs))",
      ("np.testing.assert_allclose(mean_of([1, 2, 3]), 2.0)",
       "assert abs(mean_of(np.arange(10)) - 4.5) < 1e-9"),
      "def mean_of(xs):\n    return float(np.median(xs)) + 0.1"),
    I("data-frame", "nbgrader",
      "by_region = sales.groupby('region')['amount'].sum()",
      ("assert isinstance(by_region, pd.Series)",
       "pd.testing.assert_series_equal(by_region, pd.Series({'A': 7.0, 'B': 11.0}, name='amount'),"
       " check_names=False, check_index_type=False)"),
      "by_region = sales.groupby('region')['amount'].mean()"),
    I("array", "nbgrader",
      "cubes = np.arange(5) ** 3",
      ("np.testing.assert_array_equal(cubes, [0, 1, 8, 27, 64])",),
      "cubes = np.arange(5) ** 2"),
    I("recursion", "nbgrader",
      "def fact(n):\n    return 1 if n <= 1 else n * fact(n - 1)",
      ("assert fact(5) == 120", "assert fact(0) == 1"),
      "def fact(n):\n    return n"),
    I("keyword-args", "nbgrader",
      "def shout(text, mark='!'):\n    return text.upper() + mark",
      ("assert shout('hi') == 'HI!'", "assert shout('hi', mark='?') == 'HI?'"),
      "def shout(text, mark='!'):\n    return text + mark"),
    I("raises-keyerror", "nbgrader",
      "def lookup(d, k):\n    return d[k]",
      ("try:\n    lookup({}, 'x')\nexcept KeyError:\n    pass\nelse:\n    raise AssertionError('no KeyError')",
       "assert lookup({'a': 1}, 'a') == 1"),
      "def lookup(d, k):\n    return d.get(k)"),
    I("sort-in-place", "nbgrader",
      "def sort_in_place(xs):\n    xs.sort()",
      ("xs = [3, 1, 2]\nresult = sort_in_place(xs)\nassert result is None\nassert xs == [1, 2, 3], f'xs is {xs}'",),
      "def sort_in_place(xs):\n    return sorted(xs)"),
    I("tally-dict", "nbgrader",
      "def tally(words, counts):\n    for w in words:\n        counts[w] = counts.get(w, 0) + 1",
      ("c = {}\ntally(['a', 'b', 'a'], c)\nassert c == {'a': 2, 'b': 1}, c",),
      "def tally(words, counts):\n    counts['a'] = 1"),
    I("add-column", "nbgrader",
      "def add_double(d):\n    d['double'] = d['amount'] * 2",
      ("d = sales.copy()\nadd_double(d)\nassert list(d['double']) == [6.0, 10.0, 8.0, 12.0]",),
      "def add_double(d):\n    d['double'] = d['amount']"),
    I("global-append", "nbgrader",
      "inventory = []\n\ndef add_item(x):\n    inventory.append(x)",
      ("add_item('pen')\nadd_item('ink')\nassert inventory == ['pen', 'ink'], inventory",),
      "inventory = []\n\ndef add_item(x):\n    mine = []\n    mine.append(x)"),
    I("global-counter", "nbgrader",
      "calls = 0\n\ndef tick():\n    global calls\n    calls += 1",
      ("tick()\ntick()\nassert calls == 2, calls",),
      "calls = 0\n\ndef tick():\n    pass"),
    # ---------------------------------------------------------------- otter-grader
    I("generator-value", "otter",
      "evens = (i for i in range(10) if i % 2 == 0)",
      ("assert isinstance(evens, types.GeneratorType)",
       "assert next(evens) == 0\nassert list(evens) == [2, 4, 6, 8]"),
      "evens = [0, 2, 4, 6, 8]"),
    I("generator-function", "otter",
      "def fib():\n    a, b = 0, 1\n    while True:\n        yield a\n        a, b = b, a + b",
      ("assert list(itertools.islice(fib(), 7)) == [0, 1, 1, 2, 3, 5, 8]",
       "assert inspect.isgenerator(fib())"),
      "def fib():\n    return iter([0, 1, 2, 3, 4, 5, 6])"),
    I("generator-sum", "otter",
      "def squares_up_to(n):\n    for i in range(n):\n        yield i * i",
      ("assert sum(squares_up_to(4)) == 14", "assert max(squares_up_to(5)) == 16"),
      "def squares_up_to(n):\n    yield 0"),
    I("generator-send", "otter",
      "def running_total():\n    total = 0\n    while True:\n        x = yield total\n        total += x",
      ("g = running_total()\nnext(g)\ng.send(5)\nassert g.send(3) == 8",),
      "def running_total():\n    while True:\n        yield 0"),
    I("iterator-class", "otter",
      "class Countdown:\n    def __init__(self, n):\n        self.n = n\n    def __iter__(self):\n        return self\n"
      "    def __next__(self):\n        if self.n <= 0:\n            raise StopIteration\n        self.n -= 1\n        return self.n + 1",
      ("assert list(Countdown(3)) == [3, 2, 1]", "it = Countdown(2)\nassert next(it) == 2"),
      "class Countdown:\n    def __init__(self, n):\n        self.n = n\n    def __iter__(self):\n        return iter(range(self.n))\n"
      "    def __next__(self):\n        return 0"),
    I("map-object", "otter",
      "doubled = map(lambda x: 2 * x, [1, 2, 3])",
      ("assert list(doubled) == [2, 4, 6]",),
      "doubled = map(lambda x: x, [1, 2, 3])"),
    I("zip-object", "otter",
      "pairs = zip('ab', [1, 2])",
      ("assert dict(pairs) == {'a': 1, 'b': 2}",),
      "pairs = zip('ab', [2, 1])"),
    I("closure-counter", "otter",
      "def make_counter():\n    count = 0\n    def counter():\n        nonlocal count\n        count += 1\n"
      "        return count\n    return counter",
      ("c = make_counter()\nc()\nc()\nassert c() == 3",
       "a, b = make_counter(), make_counter()\na()\nassert b() == 1, 'counters share their count'"),
      "count = 0\ndef make_counter():\n    def counter():\n        global count\n        count += 1\n"
      "        return count\n    return counter"),
    I("closure-multiplier", "otter",
      "def make_multiplier(k):\n    return lambda x: k * x",
      ("assert make_multiplier(3)(4) == 12", "triple = make_multiplier(3)\nassert [triple(i) for i in range(3)] == [0, 3, 6]"),
      "def make_multiplier(k):\n    return lambda x: x + k"),
    I("higher-order", "otter",
      "def apply_twice(f, x):\n    return f(f(x))",
      ("assert apply_twice(lambda v: v + 3, 1) == 7", "assert apply_twice(str.upper, 'a') == 'A'"),
      "def apply_twice(f, x):\n    return f(x)"),
    I("decorator", "otter",
      "def loud(f):\n    def wrapper(*args):\n        return f(*args).upper()\n    return wrapper",
      ("@loud\ndef hello(name):\n    return 'hello ' + name\nassert hello('ann') == 'HELLO ANN'",),
      "def loud(f):\n    return f"),
    I("callable-name-doc", "otter",
      "def area(w, h):\n    \"\"\"The area of a w by h rectangle.\"\"\"\n    return w * h",
      ("assert callable(area) and area.__name__ == 'area'", "assert area.__doc__ and 'area' in area.__doc__",
       "assert list(inspect.signature(area).parameters) == ['w', 'h']"),
      "def area(*sides):\n    return sides[0]"),
    I("printed-redirect", "otter",
      "def greet(name):\n    print(f'Hello, {name}!')",
      ("buf = io.StringIO()\nwith contextlib.redirect_stdout(buf):\n    greet('Ann')\n"
       "assert buf.getvalue() == 'Hello, Ann!\\n', repr(buf.getvalue())",),
      "def greet(name):\n    print('Hello', name)"),
    I("printed-capture", "otter",
      "def report(xs):\n    print('total:', sum(xs))\n    return len(xs)",
      ("from IPython.utils.capture import capture_output\nwith capture_output() as cap:\n"
       "    n = report([1, 2])\nassert n == 2 and 'total: 3' in cap.stdout, cap.stdout",),
      "def report(xs):\n    return len(xs)"),
    I("printed-none", "otter",
      "def say(x):\n    print(x)",
      ("buf = io.StringIO()\nwith contextlib.redirect_stdout(buf):\n    r = say('x')\nassert r is None and buf.getvalue() == 'x\\n'",),
      "def say(x):\n    return x"),
    # ---------------------------------------------------------------- PrairieLearn
    I("reference-function", "PrairieLearn",
      "def poly(x):\n    return x ** 2 + 1",
      ("def ref_poly(x):\n    return x ** 2 + 1\nfor x in range(-3, 4):\n"
       "    assert np.isclose(poly(x), ref_poly(x)), f'poly({x}) is wrong'",),
      "def poly(x):\n    return x ** 2"),
    I("class-methods", "PrairieLearn",
      "class Account:\n    def __init__(self, balance):\n        self.balance = balance\n"
      "    def deposit(self, amount):\n        self.balance += amount\n        return self.balance\n"
      "    def withdraw(self, amount):\n        if amount > self.balance:\n            raise ValueError('insufficient funds')\n"
      "        self.balance -= amount",
      ("a = Account(10)\na.deposit(5)\nassert a.balance == 15",
       "assert isinstance(Account(1), Account)",
       "a = Account(1)\ntry:\n    a.withdraw(5)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError('no error')",
       "assert hasattr(Account(0), 'deposit') and not hasattr(Account(0), 'nothing')"),
      "class Account:\n    def __init__(self, balance):\n        self.balance = balance\n"
      "    def deposit(self, amount):\n        return amount\n    def withdraw(self, amount):\n        pass"),
    I("own-exception", "PrairieLearn",
      "class Overdrawn(ValueError):\n    pass\n\ndef withdraw(balance, amount):\n    if amount > balance:\n"
      "        raise Overdrawn('not enough')\n    return balance - amount",
      ("try:\n    withdraw(1, 5)\nexcept ValueError as e:\n    assert 'not enough' in str(e)\n"
       "else:\n    raise AssertionError('no error')", "assert withdraw(5, 1) == 4"),
      "def withdraw(balance, amount):\n    return balance - amount"),
    I("class-str", "PrairieLearn",
      "class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n"
      "    def __str__(self):\n        return f'({self.x}, {self.y})'\n"
      "    def __eq__(self, other):\n        return (self.x, self.y) == (other.x, other.y)",
      ("assert str(Point(1, 2)) == '(1, 2)'", "assert Point(1, 2) == Point(1, 2)", "assert Point(1, 2) != Point(2, 1)"),
      "class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y"),
    I("inheritance", "PrairieLearn",
      "class Shape:\n    def area(self):\n        return 0\n\nclass Square(Shape):\n    def __init__(self, s):\n"
      "        self.s = s\n    def area(self):\n        return self.s ** 2",
      ("assert issubclass(Square, Shape)", "assert isinstance(Square(2), Shape) and Square(3).area() == 9"),
      "class Shape:\n    def area(self):\n        return 0\n\nclass Square:\n    def __init__(self, s):\n"
      "        self.s = s\n    def area(self):\n        return self.s * 2"),
    I("class-attribute", "PrairieLearn",
      "class Thermometer:\n    unit = 'C'\n    def __init__(self, t):\n        self.t = t\n"
      "    def to_f(self):\n        return self.t * 9 / 5 + 32",
      ("assert Thermometer.unit == 'C'", "assert Thermometer(100).to_f() == 212"),
      "class Thermometer:\n    unit = 'F'\n    def __init__(self, t):\n        self.t = t\n"
      "    def to_f(self):\n        return self.t"),
    I("instance-answer", "PrairieLearn",
      "class Wallet:\n    def __init__(self, cash):\n        self.cash = cash\n\nmy_wallet = Wallet(100)",
      ("assert isinstance(my_wallet, Wallet)", "assert my_wallet.cash == 100"),
      "class Wallet:\n    def __init__(self, cash):\n        self.cash = cash\n\nmy_wallet = Wallet(50)"),
    I("numpy-seed", "PrairieLearn",
      "def roll(n):\n    return np.random.randint(1, 7, n)",
      ("np.random.seed(0)\ngot = roll(5)\nnp.random.seed(0)\nassert (got == np.random.randint(1, 7, 5)).all()",),
      "def roll(n):\n    return np.random.default_rng().integers(1, 7, n)"),
    I("random-seed", "PrairieLearn",
      "def pick(xs):\n    return random.choice(xs)",
      ("random.seed(3)\nwords = list('abcdefgh')\na = [pick(words) for _ in range(4)]\nrandom.seed(3)\n"
       "assert a == [random.choice(words) for _ in range(4)]",),
      "def pick(xs):\n    return xs[0]"),
    I("random-continues", "PrairieLearn",
      "def draw():\n    return np.random.rand()",
      ("np.random.seed(1)\na = draw()\nb = np.random.rand()\nnp.random.seed(1)\nref = np.random.rand(2)\n"
       "assert a == ref[0] and b == ref[1]",),
      "def draw():\n    return 0.5"),
    I("rng-argument", "PrairieLearn",
      "def sample_mean(rng, n):\n    return rng.normal(size=n).mean()",
      ("got = sample_mean(np.random.default_rng(0), 10)\n"
       "assert np.isclose(got, np.random.default_rng(0).normal(size=10).mean())",),
      "def sample_mean(rng, n):\n    return 0.0"),
    I("file-from-cell", "PrairieLearn",
      "pd.DataFrame({'a': [1, 2]}).to_csv('totals.csv', index=False)",
      ("assert os.path.exists('totals.csv')\nassert pd.read_csv('totals.csv')['a'].sum() == 3",),
      "pd.DataFrame({'a': [1, 1]}).to_csv('totals.csv', index=False)"),
    I("file-from-function", "PrairieLearn",
      "def save_lines(path, rows):\n    with open(path, 'w') as fh:\n        fh.write('\\n'.join(rows))",
      ("save_lines('report.txt', ['a', 'b'])\nwith open('report.txt') as fh:\n    assert fh.read() == 'a\\nb'",),
      "def save_lines(path, rows):\n    with open(path, 'w') as fh:\n        fh.write(' '.join(rows))"),
    I("file-in-folder", "PrairieLearn",
      "def export(folder):\n    os.makedirs(folder, exist_ok=True)\n    sales.to_csv(os.path.join(folder, 'sales.csv'))",
      ("export('out')\nassert os.path.exists('out/sales.csv')\nassert len(pd.read_csv('out/sales.csv')) == 4",),
      "def export(folder):\n    os.makedirs(folder, exist_ok=True)"),
    I("file-the-test-wrote", "PrairieLearn",
      "def load_total(path):\n    return float(pd.read_csv(path)['x'].sum())",
      ("pd.DataFrame({'x': [1, 2, 3]}).to_csv('given.csv', index=False)\nassert load_total('given.csv') == 6",),
      "def load_total(path):\n    return 0.0"),
    I("figure-line", "PrairieLearn",
      "fig, ax = plt.subplots()\nax.plot([2020, 2021, 2022], [2, 4, 6], label='产值')\n"
      "ax.set_xlabel('年份')\nax.set_ylabel('万元')\nax.set_title('产值走势')\nax.legend()",
      ("assert ax.get_xlabel() == '年份' and ax.get_ylabel() == '万元'",
       "assert ax.get_title() == '产值走势'",
       "assert len(ax.lines) == 1 and np.allclose(ax.lines[0].get_ydata(), [2, 4, 6])",
       "assert isinstance(ax, matplotlib.axes.Axes)",
       "assert [t.get_text() for t in ax.get_legend().get_texts()] == ['产值']"),
      "fig, ax = plt.subplots()\nax.plot([2020, 2021, 2022], [6, 4, 2])"),
    I("figure-bars", "PrairieLearn",
      "fig2, ax2 = plt.subplots()\nax2.bar(['A', 'B'], [7, 11])",
      ("heights = [p.get_height() for p in ax2.patches]\nassert heights == [7, 11], heights",
       "assert [t.get_text() for t in ax2.get_xticklabels()] == ['A', 'B']"),
      "fig2, ax2 = plt.subplots()\nax2.bar(['A', 'B'], [11, 7])"),
]  # fmt: skip


def _cell(src: str, *tags: str) -> nbformat.NotebookNode:
    c = nbformat.v4.new_code_cell(src)
    if tags:
        c.metadata["tags"] = list(tags)
    return c


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [_cell("unit = 'green'", "parameters"), _cell(SETUP, "locked")]
    for idiom in IDIOMS:
        points = len(idiom.tests)
        nb.cells.append(_cell(f'ask.code("{idiom.id}", "{idiom.style}", points={points})'))
        nb.cells.append(_cell(idiom.solution, "solution"))
        body = "\n\n".join(
            f'@test("{idiom.id}", name="{idiom.id}-{i}")\ndef _():\n'
            + "\n".join("    " + ln for ln in src.splitlines())
            for i, src in enumerate(idiom.tests, 1)
        )
        nb.cells.append(_cell(body, "tests"))
    return nb


@pytest.fixture(scope="module")
def instructor() -> nbformat.NotebookNode:
    return sq.instructor_edition(_notebook())


def test_the_table_is_large_enough() -> None:
    assert len(IDIOMS) >= 40
    assert len({i.id for i in IDIOMS}) == len(IDIOMS)
    assert {i.style for i in IDIOMS} == {"nbgrader", "otter", "PrairieLearn"}


@pytest.mark.parametrize("which", ["solution", "wrong"])
def test_every_idiom_gets_the_notebooks_points_in_the_boxes(
    sandbox_grader, instructor, which, tmp_path
) -> None:
    expected = sq.expected_tests(instructor)
    answers = {i.id: getattr(i, which) for i in IDIOMS}
    reference = sq.todays_verdicts(instructor, answers, expected, tmp_path)
    boxed = sandbox_grader.run(instructor, answers, expected)
    top_to_bottom = _points(reference)
    in_boxes = _points(boxed.tests)
    full = {i.id: float(len(i.tests)) for i in IDIOMS}
    differ = {q: (top_to_bottom[q], in_boxes[q]) for q in full if top_to_bottom[q] != in_boxes[q]}
    assert not differ, (
        differ,
        [t["message"] for t in boxed.tests if not t["passed"]],
        boxed.failures,
    )
    if which == "solution":
        assert in_boxes == full, boxed.failures
    else:  # every idiom's test can fail: the wrong answer loses points both ways
        assert not [q for q in full if in_boxes[q] >= full[q]]


def _points(tests: list[dict]) -> dict[str, float]:
    got: dict[str, float] = {}
    for t in tests:
        got[t["question"]] = got.get(t["question"], 0.0) + float(t["points"])
    return got
