"""casekit's messages for markers, in English: the marking notebook and widget (see kit.messages)."""

MESSAGES: dict[str, str] = {
    "mark.points": "Points",
    "mark.comment": "Comment",
    "mark.only_open": "Unmarked only",
    "mark.previous": "Previous",
    "mark.save_next": "Save & next",
    "mark.skip": "Skip",
    "mark.nothing": "Nothing to mark.",
    "mark.left": "left",
    "mark.this_group": "this group",
    "mark.answer_group": "Answer group",
    "mark.answers_n": "{size} answers",
    "mark.others": "Other answers in the group",
    "mark.file_missing": "File missing: ",
    "mark.file": "File: ",
    "mark.saved_n": "Saved ({n}).",
    "mark.saved": "Saved.",
    "mark.whole_group": "Same mark for the whole group ({group})",
    "mark.same_answers": "Same mark for this answer group ({size} answers; {kept} marked one by one stay)",
    "mark.title": "Marking",
    "mark.hint": "Run the cell below. Every save goes to the gradebook at once; stop any time.",
}
