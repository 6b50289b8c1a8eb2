"""Upload: a file (e.g. an issue-based task report) kept with the submission; marked by hand."""

from __future__ import annotations

import html
import mimetypes
from typing import Any, Required, TypedDict

from kit.kinds.base import (
    Declared,
    ManualKind,
    QuestionFields,
    QuestionSpec,
    RubricItem,
    check_rubric,
    num,
)
from kit.messages import t

#: Photos a phone camera makes that `mimetypes` may not know (HEIC on iPhones).
IMAGE_SUFFIXES = (".heic", ".heif", ".jpg", ".jpeg", ".png", ".webp")


class UploadedFile(TypedDict, total=False):
    """The answer to an upload question: the file's safe name, size and hash, and where it lies."""

    name: Required[str]
    size: Required[int]
    sha256: Required[str]
    file: str  # ``<stem>.files/<question>/<name>`` beside the workbook


class Upload(ManualKind):
    name = "upload"
    files = True

    def declare(
        self,
        qid: str,
        prompt: str,
        accept: str = ".pdf,.docx,.md,.txt",
        rubric: list[RubricItem] | None = None,
        points: float = 0,
        max_mb: float = 20,
        *,
        unit: Any = None,
    ) -> Declared:
        """File upload (e.g. an issue-based task report), marked by hand."""
        items = check_rubric(qid, rubric)
        pts = sum(i["points"] for i in items) if items and not points else points
        fields: QuestionFields = {
            "accept": accept,
            "rubric": items or None,
            "max_mb": float(max_mb),
            "unit": unit,
        }
        return Declared(qid, prompt, pts, fields)

    def is_empty(self, value: Any) -> bool:
        """An upload record that names a file is an answer, whatever its other fields hold."""
        if isinstance(value, dict) and (value.get("sha256") or value.get("name")):
            return False
        return super().is_empty(value)

    def valid(self, spec: QuestionSpec, value: Any) -> str | None:
        return None if value is None or isinstance(value, dict) else "valid.not_object"

    def static_html(
        self, spec: QuestionSpec, answer: Any, answered: bool, lang: str
    ) -> tuple[list[str], bool]:
        types = "、".join(
            f"<code>{html.escape(type_name(a, lang))}</code>" for a in accepted_types(spec)
        )
        line = html.escape(t("upload_types", lang, types="{types}")).replace("{types}", types)
        return [f'<div style="color:#555">{line}</div>'] if types else [], answered

    def answer_html(self, value: Any, spec: QuestionSpec | None = None, lang: str = "zh") -> str:
        if self.is_empty(value) or not isinstance(value, dict):
            return super().answer_html(value, spec, lang)
        size = value.get("size")
        text = t(
            "feedback.file",
            lang,
            name=str(value.get("name") or ""),
            size=_size(int(size)) if isinstance(size, int) else "?",
        )
        return f'<p class="answer">{html.escape(text, True)}</p>'

    def answer_text(self, spec: QuestionSpec, answer: Any) -> str:
        if isinstance(answer, dict):
            return f"{answer.get('name', '')} ({answer.get('size', '?')} B)"
        return str(answer)

    def widget(self, view: Any, value: Any) -> list[Any]:
        """A file picker; ``view.receive_upload(files)`` checks and stores what was picked."""
        w = view.w
        types = accepted_types(view.spec)
        # the button says what it takes, so nobody picks a file only to have it refused
        shown = " ".join(type_name(a, view.lang) for a in types)
        label = t("upload_button_types", view.lang, types=shown) if types else None
        up = w.FileUpload(
            accept=view.spec.get("accept") or "",
            multiple=False,
            description=label or t("upload_button", view.lang),
            layout=w.Layout(width="auto"),
        )
        view.inputs["upload"] = up
        view.receive_upload = lambda files: receive_upload(view, files)
        up.observe(lambda change: view.receive_upload(change["new"]), "value")
        limit = t("upload_limit", view.lang, max=num(float(view.spec.get("max_mb") or 20)))
        return [up, w.HTML(value=f'<div class="casekit-status">{html.escape(limit)}</div>')]


def receive_upload(view: Any, files: Any) -> None:
    """Save an uploaded file beside the store and record name/size/sha256."""
    if not files:
        return
    item = files[0]
    name = str(item.get("name") or "upload")
    content = bytes(item.get("content") or b"")
    max_mb = float(view.spec.get("max_mb") or 20)
    if len(content) > max_mb * 1024 * 1024:
        size = _size(len(content))
        view.error(t("upload_too_big", view.lang, name=name, size=size, max=num(max_mb)))
        forget_pick(view)
        return
    if not accepts(view.spec, name, str(item.get("type") or "")):
        shown = "、".join(type_name(a, view.lang) for a in accepted_types(view.spec))
        view.error(t("upload_bad_type", view.lang, name=name, accept=shown))
        forget_pick(view)
        return
    try:
        record = view.runtime.save_file(view.qid, name, content)
    except Exception as exc:
        view.error(str(exc))
        forget_pick(view)
        return
    view.clear_error()
    forget_pick(view)  # the store holds it now; the button's "(1)" would count a pick, not a file
    view.save(record)
    saved = t("upload_saved", view.lang, name=record["name"], size=_size(record["size"]))
    view.status.value += f' <span class="casekit-status">{html.escape(saved)}</span>'


def forget_pick(view: Any) -> None:
    """Empty the picker, so its button stops counting a file that was refused (or is stored)."""
    up = view.inputs.get("upload")
    if up is not None and up.value:
        up.value = ()  # observed: receive_upload returns at once on an empty pick


def accepts(spec: QuestionSpec, name: str, mime: str = "") -> bool:
    """True when a file named `name` (of MIME type `mime`, as the browser said) is of a type `spec` takes.

    ``accept`` lists extensions (``.pdf``) and MIME types with wildcards
    (``image/*``, what opens a phone's camera); the browser's type is only a
    hint, so a MIME entry also matches by the name's extension.
    """
    wanted = [a.lower() for a in accepted_types(spec)]
    if not wanted:
        return True
    lower = name.lower()
    guessed = mimetypes.guess_type(lower)[0] or ""
    types = {m.lower() for m in (mime, guessed) if m}
    if lower.endswith(IMAGE_SUFFIXES):
        types.add("image/" + lower.rsplit(".", 1)[-1])
    for a in wanted:
        if a.startswith("."):
            if lower.endswith(a):
                return True
        elif a.endswith("/*"):
            if any(m.startswith(a[:-1]) for m in types):
                return True
        elif a in types:
            return True
    return False


def type_name(accept: str, lang: str) -> str:
    """An accepted type as a reader says it: ``.pdf`` as written, ``image/*`` as 照片."""
    key = f"upload_type.{accept.strip().lower()}"
    name = t(key, lang)
    return accept if name == key else name


def accepted_types(spec: QuestionSpec) -> list[str]:
    """The file types an upload takes, as the author listed them (``.pdf``, ``.docx``…)."""
    return [a.strip() for a in str(spec.get("accept") or "").split(",") if a.strip()]


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


KIND = Upload()
