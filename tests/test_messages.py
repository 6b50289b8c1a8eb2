"""The message catalogue: complete in both languages, and the command line speaks the course's."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, run_cli

from kit import messages
from kit.messages import EN, ZH, placeholders, section, speaking, t

# Keys written out where a message is made: t("…"), say("…"), section("…").
KEY_USE = re.compile(r"""\b(?:t|say|say_in|section)\(\s*["']([A-Za-z0-9_.\-]+)["']""")


def test_every_key_is_in_both_languages_with_the_same_placeholders():
    assert set(EN) == set(ZH), {"only en": set(EN) - set(ZH), "only zh": set(ZH) - set(EN)}
    for key in EN:
        assert placeholders(EN[key]) == placeholders(ZH[key]), key
        # a template must format with its own placeholders (no stray braces)
        values = {name: 1 for name in placeholders(EN[key])}
        EN[key].format(**values), ZH[key].format(**values)


def test_every_key_the_code_names_exists():
    missing = []
    for path in sorted((ROOT / "kit").rglob("*.py")):
        for key in KEY_USE.findall(path.read_text(encoding="utf-8")):
            prefix = key if key.endswith(("_", ".")) else key + "."  # t("kind_" + name), section()
            if key not in EN and not any(k.startswith(prefix) for k in EN):
                missing.append(f"{path.relative_to(ROOT)}: {key}")
    assert not missing, missing


def test_language_comes_from_the_argument_then_the_context_then_the_environment(monkeypatch):
    monkeypatch.delenv("CASEKIT_LANG", raising=False)
    assert t("course.file_missing") == "file is missing"
    assert t("course.file_missing", "zh") == "文件不存在"
    with speaking("zh"):
        assert t("course.file_missing") == "文件不存在"
        assert t("course.file_missing", "en") == "file is missing"
    monkeypatch.setenv("CASEKIT_LANG", "zh")
    assert t("course.file_missing") == "文件不存在"
    assert section("page", "zh")["cohort"] == "班次"
    # unknown keys and languages show something readable, never raise
    assert t("no.such.key", "fr") == "no.such.key"
    assert t("course.no_session", "en") == "no session {session!r} in cohort {cohort}"


def test_a_kind_registers_its_own_messages_without_overriding_the_catalogue():
    messages.register(
        {"zh": {"kind_poll-x": "投票", "unanswered": "X"}, "en": {"kind_poll-x": "Poll"}}
    )
    try:
        assert t("kind_poll-x", "zh") == "投票" and t("kind_poll-x", "en") == "Poll"
        assert t("unanswered", "zh") == "尚未作答"
    finally:
        messages.MESSAGES["zh"].pop("kind_poll-x")
        messages.MESSAGES["en"].pop("kind_poll-x")


def _with_unknown_tag(course: Path) -> Path:
    path = course / "cases/coop.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[2].metadata["tags"] = ["no-such-tag"]
    nbformat.write(nb, str(path))
    return path


def test_check_speaks_the_course_language_and_lang_overrides_it(course: Path, monkeypatch):
    monkeypatch.delenv("CASEKIT_LANG", raising=False)
    nb = _with_unknown_tag(course)
    zh = run_cli("check", str(course))
    assert zh.returncode == 2, zh.stderr
    # the problem line keeps its shape: file:where: field: message — fix
    assert f"{nb}:第 3 个单元格: tags: 未知标签 'no-such-tag' — 可选：" in zh.stderr, zh.stderr
    assert "个问题" in zh.stderr and "Traceback" not in zh.stderr
    en = run_cli("check", str(course), "--lang", "en")
    assert f"{nb}:cell 3: tags: unknown tag 'no-such-tag' — use one of:" in en.stderr, en.stderr
    os.environ["CASEKIT_LANG"] = "en"
    try:
        env = run_cli("check", str(course))
    finally:
        del os.environ["CASEKIT_LANG"]
    assert "unknown tag" in env.stderr and "未知标签" not in env.stderr


def test_outside_a_course_the_cli_speaks_english_or_the_locale(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("CASEKIT_LANG", raising=False)
    for var in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    r = run_cli("check", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and "course folder not found" in r.stderr, r.stderr
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    r = run_cli("check", str(tmp_path / "nowhere"))
    assert "找不到课程文件夹" in r.stderr, r.stderr


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_successful_check_summary_in_the_course_language(lang: str, monkeypatch):
    monkeypatch.delenv("CASEKIT_LANG", raising=False)
    r = run_cli("check", str(ROOT), "--lang", lang)
    assert r.returncode == 0, r.stderr
    assert ("个班次" in r.stdout) == (lang == "zh"), r.stdout


# ---- the command line's help (kit.cli.help): the catalogue's, in the course's language


def _help_env(monkeypatch) -> None:
    monkeypatch.delenv("CASEKIT_LANG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # one help text, one line: what a test can look for


def test_help_in_a_chinese_course_folder_is_chinese(monkeypatch):
    _help_env(monkeypatch)
    r = run_cli("--help", cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert t("help.check", "zh") in r.stdout and "命令" in r.stdout, r.stdout
    assert t("help.check", "en") not in r.stdout
    build = run_cli("build", "--help", cwd=ROOT)
    assert t("help.build.force", "zh") in build.stdout and "选项" in build.stdout, build.stdout


def test_help_follows_lang_and_the_course_it_names(tmp_path: Path, monkeypatch):
    _help_env(monkeypatch)
    en = run_cli("build", "--help", "--lang", "en", cwd=ROOT)
    assert en.returncode == 0, en.stderr
    assert t("help.build.force", "en") in en.stdout and "Options" in en.stdout, en.stdout
    assert t("help.build.force", "zh") not in en.stdout
    # -C names the course from elsewhere; an English course's help is English
    named = run_cli("grade", "--help", "-C", str(ROOT), cwd=tmp_path)
    assert t("help.grade.force", "zh") in named.stdout, named.stdout
    (tmp_path / "course.toml").write_text('[programme]\nname = "x"\nlanguage = "en"\n')
    english = run_cli("--help", cwd=tmp_path)
    assert t("help.check", "en") in english.stdout, english.stdout


def test_argv_language_reads_the_forms_of_lang_and_course(tmp_path: Path, monkeypatch):
    from kit.cli.help import argv_language

    monkeypatch.delenv("CASEKIT_LANG", raising=False)
    (tmp_path / "course.toml").write_text('[programme]\nname = "x"\nlanguage = "en"\n')
    assert argv_language(["build", "--help", f"-C{ROOT}"]) == "zh"
    assert argv_language(["build", f"--course={tmp_path}"]) == "en"
    assert argv_language(["build", "--course", str(ROOT), "--lang=en"]) == "en"
    monkeypatch.setenv("CASEKIT_LANG", "en")
    assert argv_language(["build", "-C", str(ROOT)]) == "en"


def test_every_command_and_parameter_has_help_in_both_languages_from_the_catalogue():
    import typer

    from kit.cli import app
    from kit.cli.help import localise, walk

    def texts(command: object) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for path, cmd in walk(command):
            found[path or "casekit"] = cmd.help
            for p in cmd.params:
                if not getattr(p, "hidden", False):
                    found[f"{path} {p.name}"] = getattr(p, "help", None)
        return found

    command = typer.main.get_command(app)
    # one home: the commands bring no help of their own, the catalogue gives all of it
    assert not any(texts(command).values()), {k: v for k, v in texts(command).items() if v}
    localise(command, "en")
    en = texts(command)
    localise(command, "zh")
    zh = texts(command)
    assert len(en) > 100 and en.keys() == zh.keys()
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for where in en:
        # a key missing from the catalogue would show as the key itself
        assert en[where] and not en[where].startswith("help."), f"no help for {where}"
        assert zh[where] and cjk.search(zh[where] or ""), f"Chinese help for {where}: {zh[where]!r}"
        assert not cjk.search(en[where] or ""), f"English help for {where}: {en[where]!r}"
