"""A held-out set for the answer-group threshold: answers with hand-labelled groups.

Written for this bench, never for a test: none of these strings is in
``tests/test_groups.py`` or ``tests/classroom.py``, and none is about the
12345 hotline backlog those tests use. Each question is one the sample
course asks (or could ask) in its themes: the petition case, the memorial,
the county's transition, the township data, the site visit, the conference,
and the feedback every session collects. The answers are written as
trainees write on a phone: short, in their own words, with the phrases
everyone uses, typos of emphasis and all; some answers to one point share
hardly a character (a "VR hall" and a "digital exhibition" are one point).

Each group is one point, as a marker would label it; ``loners`` belong to
no group (they should each stand alone). `bench/bench_groups.py` sweeps the
threshold over these questions and scores the groups found against these.
"""

from __future__ import annotations

QUESTIONS: list[dict] = [
    {
        "id": "petition-stance",
        "prompt": "小高该怎么向带班副局长表态：依法终结还是继续化解？",
        "groups": [
            [  # terminate by law: the procedure is done
                "复查复核都走完了，应当依法终结，不能无限期拖下去。",
                "依法终结。程序已经穷尽，再受理就是对其他群众不公平。",
                "按《信访工作条例》办，三级程序走完就终结，不再重复受理。",
                "我主张终结，信访不能变成谁闹谁有理。",
                "程序到头了，该终结就终结，依法办事。",
            ],
            [  # keep resolving: the claim has something in it
                "还要继续化解，老人的诉求里有合理的部分，不能一终了之。",
                "继续做工作。终结只是程序，矛盾还在，人还会来。",
                "先别急着终结，再上门谈一次，把合理诉求解决掉。",
                "应该继续化解，合理的部分要给人家落实到位。",
                "不能简单终结，要把群众的实际困难当回事，继续跟进。",
            ],
            [  # a hearing or a third party
                "建议召开公开听证会，请人大代表、律师和群众代表一起评议。",
                "组织听证，让第三方来评，结论大家都服气。",
                "请法律顾问和政协委员参加听证，公开评理。",
                "搞一次听证会，邀请社区干部和老党员旁听。",
            ],
            [  # terminate, but help with the hardship
                "可以终结，但生活困难要通过低保、临时救助兜底。",
                "程序上终结，同时把他家纳入困难救助，帮扶不能停。",
                "终结和帮扶两条腿走路：依法终结，民政救助跟上。",
                "终结信访事项，另外协调低保和医疗救助解决实际困难。",
            ],
        ],
        "loners": ["不知道怎么办。", "听领导安排。"],
    },
    {
        "id": "memorial-budget",
        "prompt": "这笔钱投向哪一个方案，为什么？",
        "groups": [
            [  # the digital, immersive hall
                "投数字化展厅，VR、全息这些能把年轻人吸引过来。",
                "选沉浸式体验馆，现在学生研学就喜欢互动的东西。",
                "建数字展陈，用声光电还原当年的场景，参观人数会上去。",
                "VR体验馆，让游客身临其境，年轻人愿意再来。",
                "做多媒体互动展区，线上线下都能推广。",
            ],
            [  # restore the old site, collect relics
                "钱要花在修缮旧址上，原貌保护比什么都重要。",
                "先抢救性修缮故居，再征集散落在民间的文物和史料。",
                "修旧如旧，把老房子保护好，这是纪念馆的根。",
                "把钱用在文物征集和史料整理上，厚重才是纪念馆的价值。",
                "优先维修旧址建筑，漏雨的屋顶等不起。",
            ],
            [  # a mix of both
                "两个方案结合：七成修缮旧址，三成做数字化展示。",
                "组合着来，大头保护文物，小部分钱搞互动体验。",
                "不必二选一，主体修缮，辅以一个小型数字展厅。",
                "修缮为主、数字为辅，分两期实施。",
            ],
            [  # the people who tell the story
                "培养一支好的讲解员队伍，比硬件更能打动人。",
                "投在讲解员培训和研学课程开发上，内容才是核心。",
                "请老党员、后人来讲故事，开发现场教学课程。",
                "把钱花在讲好故事上：讲解词打磨、讲解员培训。",
            ],
        ],
        "loners": ["都可以。", "建议上级再追加预算，两个都做大。"],
    },
    {
        "id": "session-feedback",
        "prompt": "对本次课还有什么意见和建议？",
        "groups": [
            [  # more time to discuss
                "讨论时间太短了，刚说到关键处就结束了。",
                "希望多给一些小组讨论的时间。",
                "分组研讨时间不够，建议延长半小时。",
                "讨论环节太赶，没来得及每个人都发言。",
                "时间安排再宽松些，讨论意犹未尽。",
            ],
            [  # the attachments on a phone
                "附件数据太多，手机上表格看不清。",
                "图表在手机屏幕上太小了，字要放大才能看。",
                "材料有点多，一节课读不完这么多附件。",
                "表格横着滑动很不方便，建议出打印版。",
            ],
            [  # more field teaching
                "希望多安排到现场去看看，少在教室里讲。",
                "建议增加实地调研，去乡镇、企业走一走。",
                "现场教学比课堂效果好，能不能多安排几次。",
                "多组织走出去的参观学习。",
            ],
            [  # good, nothing to add
                "很好，没有意见。",
                "收获很大，没有建议。",
                "课程很好，很实用。",
                "无。挺好的。",
                "非常好，老师讲得很透。",
            ],
            [  # the platform and the network
                "网络太卡，提交了好几次才成功。",
                "平台登录有点慢，建议提前测试网络。",
                "wifi信号不好，答题时掉线了。",
            ],
        ],
        "loners": ["老师能不能把课件发给我们？"],
    },
    {
        "id": "township-advice",
        "prompt": "为该乡镇党委写一条产业转型建议（要有数据依据）。",
        "groups": [
            [  # solar on the subsided land
                "利用采煤沉陷区建光伏电站，全镇沉陷区面积有3000多亩。",
                "发展光伏发电，闲置的沉陷地可以流转出来装光伏板。",
                "搞新能源，沉陷区上光伏，农民还能拿租金。",
                "建设光伏+储能项目，把废弃矿区利用起来。",
                "塌陷地发展光伏产业，年发电量可以带来稳定收入。",
            ],
            [  # grain processing and brands
                "小杂粮深加工，全镇谷子种植面积占耕地四成，要延长产业链。",
                "打造小米区域品牌，通过电商卖出去。",
                "发展农产品精深加工，建杂粮加工厂，提高附加值。",
                "把红枣、小米做成品牌，搞直播带货。",
                "杂粮产量大但卖原粮，应当就地加工增值。",
            ],
            [  # tourism and health care
                "发展乡村旅游，镇里有古村落和红色遗址，游客数据逐年增长。",
                "搞文旅融合，开发农家乐和民宿。",
                "利用好山好水发展康养产业，吸引城里老人来住。",
                "依托古村落发展研学旅游和民宿经济。",
            ],
            [  # training the miners for new work
                "对煤矿转岗工人开展技能培训，全镇有一千多名矿工面临转岗。",
                "组织职业技能培训，帮下岗矿工再就业。",
                "和职业学校合作，培训电工、焊工，让工人转到新产业。",
                "关停矿井后的工人要安置，建议办技能培训班。",
            ],
        ],
        "loners": ["加强党的领导。"],
    },
    {
        "id": "visit-takeaway",
        "prompt": "观摩记录：带回去什么（一项回岗后的具体行动）",
        "groups": [
            [  # go down to the people
                "回去后每月至少下村两次，面对面听群众意见。",
                "坚持走访群众，每周抽一天到村里去。",
                "把接访变成下访，主动上门了解群众诉求。",
                "回岗后带头包村，每月入户走访。",
                "多到基层一线去，少坐办公室，听听老百姓怎么说。",
            ],
            [  # a party day on local history
                "组织支部开展一次主题党日，重温入党誓词。",
                "回去给支部党员讲一次党课，讲讲今天看到的故事。",
                "在支部组织学习本地革命史，开一次专题组织生活会。",
                "把这次参观的见闻带回支部，搞一次主题党日活动。",
            ],
            [  # fewer meetings and papers
                "精简会议和文件，少开会、开短会。",
                "改进作风，能不发的文件不发，能合并的会合并开。",
                "减少材料报送，把时间留给干实事。",
                "反对形式主义，不搞层层填表、重复报材料。",
            ],
            [  # the county's own stories
                "收集整理我们县的红色故事，编成小册子。",
                "挖掘本地红色资源，把老英雄的事迹讲给年轻干部听。",
                "整理本乡镇的革命史料，建一个小型村史馆。",
                "讲好身边的红色故事，录成短视频在公众号上发。",
            ],
        ],
        "loners": ["认真工作。", "以后有机会带家人再来看看。"],
    },
    {
        "id": "land-use",
        "prompt": "那块2000亩的地怎么用？一句话说出你的主张。",
        "groups": [
            [  # the coal-to-chemicals plant
                "上煤制化工项目，短期内能拉动GDP和税收。",
                "引进煤化工，投资大、见效快，能解决就业。",
                "建煤制烯烃项目，财政收入能翻一番。",
                "还是要上化工项目，县里财政等不起。",
            ],
            [  # solar and storage
                "建光伏储能基地，符合双碳方向，长远看更划算。",
                "发展新能源，光伏加储能，不会再走高耗能的老路。",
                "用来建风光储一体化项目。",
                "做新能源产业园，引进光伏组件企业。",
                "光伏电站加储能，环境账和长远账都算得过来。",
            ],
            [  # repair the land first
                "先搞生态修复，复垦造林，把欠的生态账还上。",
                "植树造林，恢复植被，给子孙留片绿地。",
                "生态优先，土地复垦后种经济林。",
                "治理水土流失，先修复再谈开发。",
            ],
            [  # keep it open, plan first
                "先做规划，留白不动，等好项目。",
                "不急于开发，分期规划，第一期只用三分之一。",
                "规划先行，预留发展空间，不要一次用完。",
            ],
        ],
        "loners": ["请示上级再定。"],
    },
    {
        "id": "speech-outline",
        "prompt": "写出三分钟表态发言提纲：开头亮明态度，中间三点，结尾表决心。",
        "groups": [
            [  # safety first: checks, accountability, drills
                "我表个态：坚决把安全生产放在首位。一是全面排查隐患，"
                "本月内对辖区127家企业过一遍；二是压实责任，层层签订责任书；"
                "三是搞好应急演练。请领导放心，我们一定守住底线。",
                "各位领导，我们坚决落实会议部署。第一，拉网式排查，"
                "不留死角；第二，落实企业主体责任，问题整改销号；"
                "第三，每季度至少一次应急演练。保证不出事故。",
                "态度就一句话：安全无小事。排查隐患要全覆盖，"
                "责任要落到具体人头上，演练要常态化。我们有信心完成任务。",
                "坚决拥护会议决定。抓安全，我们做三件事：查隐患、压责任、强演练。"
                "上半年隐患整改率达到百分之百。请领导检验。",
            ],
            [  # the project: land, funds, deadlines
                "我代表乡里表态：全力保障项目落地。一是本月完成土地征收，"
                "涉及农户86户；二是协调资金，争取专项债；三是倒排工期，"
                "确保十月开工。请领导放心。",
                "坚决完成项目建设任务。征地拆迁我们包干，资金缺口积极向上争取，"
                "工期挂图作战、倒排到周。十月一定开工。",
                "各位领导，对这个项目我们是有信心的。征地已经谈妥八成，"
                "资金正在对接银行，施工计划细化到每一周。保证按期开工。",
                "表个态：项目是头等大事。土地、资金、工期三件事，每件都有专人盯。开工时间不会拖。",
            ],
            [  # the people's livelihood: jobs, care for the old, schools
                "我们要把民生实事办好。第一，新增就业岗位300个；"
                "第二，建成两个日间照料中心，照顾好留守老人；"
                "第三，改造三所乡村学校。请群众检验我们的工作。",
                "坚决落实民生工程。就业上开展招聘会和技能培训，养老上建照料中心，"
                "教育上改薄提质。年底前件件有着落。",
                "表态发言：民生无小事。稳就业、办养老、改学校，"
                "三件事年底前全部兑现，决不让群众失望。",
                "各位领导，我们的态度是为群众办实事。就业岗位、老人照料、"
                "孩子上学，这三件事我们逐项落实，定期向群众公开进度。",
            ],
        ],
        "loners": ["坚决拥护，坚决落实。"],
    },
    {
        "id": "conference-cut",
        "prompt": "The meeting must be 20 minutes shorter. What do you cut, and how?",
        "groups": [
            [  # shorter speeches
                "Limit each leader's speech to five minutes and tell them in advance.",
                "Ask every speaker to keep to a strict time limit; cut the speeches short.",
                "Shorten the opening remarks: three minutes each instead of ten.",
                "Give speakers a hard time cap and a timer on the podium.",
                "Trim the speeches, they always run over.",
            ],
            [  # drop the video
                "Drop the promotional video, it adds nothing the reports do not say.",
                "Skip the video and hand out a link to it instead.",
                "Play only a two-minute clip of the video rather than the full film.",
                "Cut the film screening entirely.",
            ],
            [  # merge the reports
                "Merge the two departmental reports into one joint report.",
                "Combine the progress reports of the townships into a single item.",
                "Have one person present both reports together.",
                "Join the two report items on the agenda into one.",
            ],
            [  # written instead of spoken
                "Move the experience exchange to written materials handed out at the door.",
                "Put the exchange speeches in the meeting pack instead of reading them out.",
                "Distribute the exchange material in print; nobody needs to read it aloud.",
            ],
        ],
        "loners": ["Start on time.", "I would ask the director what matters most to him."],
    },
    {
        "id": "feedback-english",
        "prompt": "Any comments or suggestions about today's session?",
        "groups": [
            [  # more discussion time
                "More time for group discussion, please.",
                "The discussion part was too short.",
                "We needed longer to discuss in our groups.",
                "Give the groups more time to talk it through.",
            ],
            [  # the charts on a phone
                "The charts were hard to read on my phone.",
                "Tables are too small on a phone screen.",
                "Could the figures be bigger? On a phone I had to zoom all the time.",
                "Reading the attachments on a small screen was difficult.",
            ],
            [  # field visits
                "More site visits would help.",
                "I would like to visit the places we studied.",
                "Please organise a field trip next time.",
            ],
            [  # all good
                "Great session, no suggestions.",
                "Very useful, thank you.",
                "Nothing to add, it was good.",
                "Excellent, well organised.",
            ],
        ],
        "loners": ["Can we get the slides?"],
    },
]
