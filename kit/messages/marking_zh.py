"""casekit's messages for markers, in Chinese: the marking notebook and widget (see kit.messages)."""

MESSAGES: dict[str, str] = {
    "mark.points": "得分",
    "mark.comment": "评语",
    "mark.only_open": "只看未批",
    "mark.previous": "上一份",
    "mark.save_next": "保存并下一份",
    "mark.skip": "跳过",
    "mark.nothing": "没有需要批阅的答卷。",
    "mark.left": "未批",
    "mark.this_group": "本组",
    "mark.answer_group": "相似答案组",
    "mark.answers_n": "共 {size} 份",
    "mark.others": "同组其他答案",
    "mark.file_missing": "文件缺失：",
    "mark.file": "文件：",
    "mark.saved_n": "已保存（{n} 份）。",
    "mark.saved": "已保存。",
    "mark.whole_group": "全组同分（{group}，课题报告等小组作业）",
    "mark.same_answers": "本组相似答案同分（共 {size} 份；已单独批阅的 {kept} 份不变）",
    "mark.title": "批阅",
    "mark.hint": "运行下面的单元开始批阅。每次“保存”都会立即写入成绩册；可以随时停下，下次从未批的开始。",
}
