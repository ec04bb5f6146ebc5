"""The emergency and abuse checks on our development sets, near misses, and the notice they produce.

The development sets (tests/agents/data/*_dev*.jsonl) were written by us, before and while the
checks were built; the frozen suites in eval/suites are scored by ``cityagent bench emergency``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agents.resident import abuse, intents, prompts
from agents.resident.abuse import is_abuse, is_abuse_by_rules
from agents.resident.emergency import counter_cue, detect, detect_by_model, detect_by_rules, model, normalise
from eval.bench.emergency import phrase_list_baseline, run_emergency_bench, table

DATA = Path(__file__).parent / "data"
DEV = sorted(DATA.glob("emergency_dev*.jsonl"))
RULE_SETS = [p for p in DEV if p.stem in {"emergency_dev", *(f"emergency_dev{n}" for n in range(2, 7))}]


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_on_the_development_sets_the_rules_catch_every_emergency_and_no_ordinary_request_alarms() -> None:
    """Sets 1-6 are the ones the rules were widened on; 7 and 8 were written after them (see below)."""
    items = [item for path in RULE_SETS for item in load(path)]
    emergencies = [i for i in items if i["label"] == "emergency"]
    ordinary = [i for i in items if i["label"] == "ordinary"]
    assert len(emergencies) >= 150 and len(ordinary) >= 150
    missed = [i["text"] for i in emergencies if detect_by_rules(i["text"])[0] is None]
    alarms = [i["text"] for i in ordinary if detect_by_rules(i["text"])[0] is not None]
    assert missed == [] and alarms == []
    wrong_first = [
        i["text"]
        for i in emergencies
        if (found := detect(i["text"])) and found.services[0] not in i["services"]
    ]
    assert len(wrong_first) <= 0.02 * len(emergencies), wrong_first


def test_with_the_model_the_check_fits_every_development_set() -> None:
    """In-sample (the model was fitted on these): a sanity check; held-out figures are in the model file."""
    items = [item for path in DEV for item in load(path)]
    missed = [i["text"] for i in items if i["label"] == "emergency" and detect(i["text"]) is None]
    alarms = [i["text"] for i in items if i["label"] == "ordinary" and detect(i["text"]) is not None]
    assert len(missed) <= 0.01 * len(items) and len(alarms) <= 0.01 * len(items), (missed, alarms)


@pytest.mark.parametrize(
    ("text", "services"),
    [
        ("厨房那根管子一直在响 呼呼的往外跑气", ("119",)),
        ("房子后面的山坡在往下滑，石头都滚到屋边了", ("119",)),
        ("隔壁一直传出女人尖叫和东西摔碎的声音", ("110",)),
    ],
)
def test_the_model_catches_what_no_rule_names_and_the_old_list_missed(
    text: str, services: tuple[str, ...]
) -> None:
    assert detect_by_rules(text) == (None, None) and phrase_list_baseline(text) is None
    found = detect_by_model(text)
    assert found is not None and found.services[0] == services[0] and found.cue.startswith("model")
    assert detect(text) == found and intents.read(text).emergency


@pytest.mark.parametrize("lead", ["如果", "上周", "听说", "电视上说"])
def test_a_counter_cue_keeps_the_model_quiet(lead: str) -> None:
    text = "厨房那根管子一直在响 呼呼的往外跑气"
    assert detect_by_model(lead + text) is not None  # the model alone would alarm
    assert counter_cue(lead + text) is not None and detect(lead + text) is None


def test_the_model_alone_says_nothing_below_its_threshold() -> None:
    scorer = model()
    for text in ("燃气费怎么交，可以在手机上交吗", "我想问一下居住证怎么办理"):
        assert scorer.probabilities(normalise(text))["emergency"] < scorer.threshold
        assert detect_by_model(text) is None


@pytest.mark.parametrize(
    ("text", "services"),
    [
        ("我家楼道里煤气味特别重，好像漏气了", ("119",)),
        ("屋头一股子糊味儿 电视后面在冒烟", ("119",)),
        ("燃汽表那里在漏气 怎么办啊", ("119",)),
        ("进门就是一股燃气味 我妈已经晕过去了", ("119", "120")),
        ("在电梯里 电梯不动了 好黑 好怕", ("119",)),
        ("我奶奶倒在卫生间里了 叫她也不应", ("120",)),
        ("老公被电着了 躺地上不动了 线还在地上", ("119", "120")),
        ("有个男的在打他老婆，打得很凶，一直在喊救命", ("110",)),
        ("有个小孩站在阳台栏杆上面", ("110", "119")),
        ("卧槽着火了快来人", ("119",)),
    ],
)
def test_residents_words_for_danger_get_the_numbers_it_needs_first(
    text: str, services: tuple[str, ...]
) -> None:
    found = detect(text)
    assert found is not None and found.services == services
    reading = intents.read(text)
    assert reading.route == "report" and reading.emergency and reading.services == services


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("燃气费怎么交，可以在手机上交吗", None),
        ("电梯年检过期了，合格证上的日期是去年的", None),
        ("消防通道被电动车占了，堆了好多杂物", None),
        ("上周家里进水了，想申请补偿", "claim"),
        ("上周我家进过水，想申请补偿", None),
        ("前天被困在电梯里过一次，想投诉物业", "past"),
        ("如果家里着火了应该怎么逃生", "hypothetical"),
        ("我昨天煤气味很重，燃气公司来修好了，想问要不要付维修费", "past"),
        ("我的猫被困在树上下不来了", None),
        ("被锁在门外了，开锁公司电话多少", None),
        ("电视上说有地方着火了，我们这边安全吗", "media"),
        ("楼下有人抽烟，烟味飘到我家", None),  # someone smoking: the smell is tobacco, no sign at all
        ("没有人受伤，就是电梯门坏了", "negated"),
        ("燃气灶打不着火，是不是没气了", None),
        # issue 17, second round: questions about what to do, posts, a stall to close, hyperbole, animals
        ("发生火灾的时候能不能坐电梯", "hypothetical"),
        ("遇到持刀的人应该怎么自保", "hypothetical"),
        ("老人走失了多长时间可以报警", "hypothetical"),
        ("朋友圈都在传化工厂着火了 是真的吗", "media"),
        ("上周楼下烧烤摊着火 现在又开始摆了 能不能取缔", "enforcement"),
        ("火灾以后的房子 鉴定报告去哪开", "past"),
        ("刚才听到楼下砰的一声 下去看了是轮胎爆了", "over"),
        ("我等你们回复等得都快晕倒了", None),
        ("我家狗被车撞了 腿瘸了 那个司机跑了", None),
        ("我家老人有点头晕 量了血压有点高", "weak"),
        ("俺家那个煤气灶 打火要打好几下才着 是不是该换了", None),
    ],
)
def test_near_misses_raise_no_alarm_and_say_why(text: str, why: str | None) -> None:
    found, reason = detect_by_rules(text)
    assert found is None and reason == why
    assert intents.read(text).emergency is False


def test_the_old_phrase_list_missed_what_the_issue_reported() -> None:
    text = "我家楼道里煤气味特别重，好像漏气了"
    assert phrase_list_baseline(text) is None and detect(text) is not None


def test_normalisation_folds_typos_and_full_width() -> None:
    assert normalise("天燃气泄露了！！　快来") == "天然气泄漏了!!，快来"
    assert normalise("俺家煤汽  味大") == "俺家煤气，味大"


def test_the_notice_gives_the_needed_numbers_first_then_the_others_and_offers_the_report() -> None:
    gas = prompts.emergency_notice(("119",), ("gas",))
    assert gas.startswith("【紧急情况】请立即拨打 119")
    assert gas.index("119") < gas.index("120") and gas.index("119") < gas.index("110")
    assert (
        "不要开关电器" in gas
        and "紧急" in prompts.EMERGENCY_REPORT
        and gas.endswith(prompts.EMERGENCY_REPORT)
    )
    medical = prompts.emergency_notice(("120",), ("medical",))
    assert medical.startswith("【紧急情况】请立即拨打 120") and "不要开关电器" not in medical
    assert medical.index("120") < medical.index("119")
    violence = prompts.emergency_notice(("110", "120"), ("violence",))
    assert violence.startswith("【紧急情况】请立即拨打 110") and "同时拨打 120" in violence
    assert all(n in prompts.emergency_notice((), ()) for n in ("119", "120", "110"))


@pytest.mark.parametrize(
    "text",
    [
        "装电梯需要多少户同意？能用我爸妈的公积金来付吗？",
        "我妈妈的医保卡丢了怎么补",
        "他妈妈住院了，陪护假怎么请",
        "孩子他妈去外地了，孩子入学材料谁来签",
        "我和他妈的户口在一起，能一起迁吗",
        "卧槽，这么快就批了",
        "简直是垃圾服务，打了十次电话没人接",
        "你们到底管不管啊！都反映三次了",
        "楼下的废物回收站能不能搬走",
        "你好，我妈有病，能办慢病卡吗",
        "我操作不了这个页面",
    ],
)
def test_family_words_and_complaints_said_with_feeling_are_not_abuse(text: str) -> None:
    assert not is_abuse(text)
    assert intents.read(text).route != "abuse"


@pytest.mark.parametrize(
    "text",
    [
        "你们这帮废物",
        "傻逼客服",
        "他妈的你们到底管不管",
        "你妈的，到底修不修",
        "滚！",
        "你们这群垃圾",
        "sb系统",
    ],
)
def test_insults_aimed_at_the_service_are_abuse(text: str) -> None:
    assert is_abuse(text) and intents.read(text).route == "abuse"


@pytest.mark.parametrize("name", ["abuse_dev.jsonl", "abuse_dev2.jsonl"])
def test_abuse_development_sets_by_the_rules(name: str) -> None:
    """abuse_dev2: ordinary words holding an insult's characters (孩子妈的户口, 你们垃圾清运, 我妈有病)."""
    items = load(DATA / name)
    wrong = [i["text"] for i in items if is_abuse_by_rules(i["text"]) != (i["label"] == "abuse")]
    assert wrong == []


def test_abuse_development_sets_with_the_model_raise_no_false_positive() -> None:
    """abuse_dev3 (written after the rules): 妈 in innocent senses, feeling, insults in other words."""
    items = [item for path in sorted(DATA.glob("abuse_dev*.jsonl")) for item in load(path)]
    false_positives = [i["text"] for i in items if i["label"] == "ordinary" and is_abuse(i["text"])]
    missed = [i["text"] for i in items if i["label"] == "abuse" and not is_abuse(i["text"])]
    assert false_positives == [] and len(missed) <= 0.1 * len(items), missed


@pytest.mark.parametrize(
    "text",
    [
        "我舅妈的低保卡到期了，你们能帮忙续一下吗",
        "姑妈家的房子拆迁，补偿款你们什么时候发",
        "小区大妈说你们下周来测血压，是真的吗",
        "妈呀，你们这效率也太高了吧，谢谢",
        "我都快急疯了，你们到底什么时候来修啊！！！",
        "你们这个破系统我真是服了，又登不上去",
        "他妈妈腿摔伤了，你们那个居家护理怎么申请",
    ],
)
def test_fresh_family_words_and_feelings_are_not_abuse(text: str) -> None:
    assert not is_abuse(text) and intents.read(text).route != "abuse"


@pytest.mark.parametrize(
    "text",
    [
        "邻居骂我傻逼 我要投诉他",
        "出租车司机骂我sb 我记了车牌 怎么投诉",
        "那个办事员跟我说你是不是傻 这种态度我要投诉",
        "我被人在网上骂傻逼 还把我照片发出去了 能报警吗",
        "同学叫他白痴 老师也不管",
    ],
)
def test_an_insult_the_resident_reports_is_someone_elses(text: str) -> None:
    assert abuse.quotes_someone(text) and not abuse.model_may_speak(text)
    assert not is_abuse(text) and intents.read(text).route != "abuse"


@pytest.mark.parametrize(
    "text",
    [
        "他骂我傻逼，你们也是傻逼",
        "我说你们就是一群废物",
        "狗东西 我的投诉呢",
        "叫你们领导来 废物",
        "你们12345的人都是白痴吗",
    ],
)
def test_the_same_words_thrown_at_the_service_are_abuse(text: str) -> None:
    assert is_abuse_by_rules(text)


def test_the_abuse_model_only_speaks_to_someone_addressed() -> None:
    addressed = "客服是不是没脑子，说了八遍还不懂"  # no rule names it: the model does
    assert not is_abuse_by_rules(addressed) and abuse.model_may_speak(addressed) and is_abuse(addressed)
    nobody = "是不是没脑子，说了八遍还不懂"  # the same words aimed at nobody named
    assert not abuse.model_may_speak(nobody) and not is_abuse(nobody)


def test_bench_scores_a_suite_beside_the_phrase_list(tmp_path: Path) -> None:
    suite = tmp_path / "e.jsonl"
    rows = [
        {
            "task": "emergency",
            "id": "1",
            "text": "我家楼道里煤气味特别重，好像漏气了",
            "label": "emergency",
            "services": ["119"],
        },
        {"task": "emergency", "id": "2", "text": "楼上着火了", "label": "emergency", "services": ["119"]},
        {"task": "emergency", "id": "3", "text": "燃气费怎么交", "label": "ordinary", "services": []},
        {
            "task": "emergency",
            "id": "4",
            "text": "我妈晕倒过一次，上个月的事了，想申请救助",
            "label": "ordinary",
            "services": [],
        },
    ]
    suite.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    abuse = tmp_path / "a.jsonl"
    lines = [
        {"task": "abuse", "id": "1", "text": "能用我爸妈的公积金吗", "label": "ordinary"},
        {"task": "abuse", "id": "2", "text": "傻逼客服", "label": "abuse"},
    ]
    abuse.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), encoding="utf-8")
    result = run_emergency_bench([suite], [abuse])
    ours, old = (
        result["emergency"][str(suite)]["detector"],
        result["emergency"][str(suite)]["baseline_phrase_list"],
    )
    assert ours["recall"] == 1.0 and ours["false_alarm_rate"] == 0.0 and ours["services_exact"] == 1.0
    assert old["recall"] == 0.5 and old["false_alarm_rate"] == 0.5 and old["services_exact"] == 0.0
    assert old["missed"] == ["我家楼道里煤气味特别重，好像漏气了"]
    scored = result["abuse"][str(abuse)]
    assert scored["detector"]["false_positives"] == []
    assert scored["baseline_phrase_list"]["false_positives"] == ["能用我爸妈的公积金吗"]
    assert set(result["emergency"][str(suite)]) == {
        "detector",
        "rules",
        "baseline_phrase_list",
        "baseline_tfidf_svc",
    }
    assert result["emergency"][str(suite)]["rules"]["emergencies"] == 2
    lines = table(result).splitlines()
    assert sum(line.startswith("e.jsonl | ") for line in lines) == 4
    assert sum(line.startswith("a.jsonl | ") for line in lines) == 4


def test_bench_says_which_line_of_a_suite_is_bad(tmp_path: Path) -> None:
    suite = tmp_path / "bad.jsonl"
    suite.write_text(
        '{"task": "emergency", "id": "1", "text": "着火了", "label": "emergency"}\nnot json\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        run_emergency_bench([suite], [suite])


@pytest.mark.parametrize(
    "text",
    [
        # a habit or the past told first, the danger now after a word of now (emround3)
        "老是漏气的那个灶今天一股煤气味 我头晕得站不住",
        "之前就说过这电线老化 刚才插座冒火花了 还有烟",
        "这条路一下雨就积水 今天水到腰了 有辆车熄火了 里面还有人",
        # someone alone not seen for days: two signs of it, whatever the time words
        "隔壁的阿婆一个人住 四五天没见她出来了 门口的报纸一大堆",
        "她平时每天都来我家串门 这三天都没来 敲门也没人应 电话也关机",
        # fumes and people sick now; a friend who spoke of suicide and cannot be reached
        "昨晚屋里生了炉子 今早我爸妈都叫不醒",
        "我男朋友前几天一直说不想活了 现在电话打不通 人也找不到",
        # a nuisance's fumes in one clause, a fire in another
        "熏得眼睛都睁不开 楼下着火了 烟往我家灌",
    ],
)
def test_a_danger_now_after_a_past_habitual_or_nuisance_framing_is_caught(text: str) -> None:
    assert detect_by_rules(text)[0] is not None


@pytest.mark.parametrize(
    "text",
    [
        "我妈经常头晕 今天又晕了一下 现在好了",
        "上周煤气泄漏过一次 今天燃气公司来检查了",
        "我一个人住 好几天没出门了 想问问有没有送菜上门的服务",
        "好多天没见人来收垃圾了 苍蝇到处飞",
        "楼下烧烤熏得我喘不过气 能不能管管",
        "排队等了两个小时 人都快晕倒了",
        "办个手续跑了五趟 气得快喘不过气了",
        "被这个政策气得冒烟",
        "刚才停了一下电 现在已经来电了",
        "平时经常头晕 今天量了血压有点高",  # the habit is the symptom's: not a contrast to today
    ],
)
def test_feelings_a_habit_over_and_the_speaker_alone_raise_no_alarm(text: str) -> None:
    assert detect(text) is None


@pytest.mark.parametrize(
    "text",
    [
        # danger words as feelings, a fire that was not, a drill's smoke (emround4)
        "物业费又涨了 我心脏病都快犯了",
        "看到罚单我火冒三丈",
        "楼下放烟雾弹演习 我还以为着火了",
        # repairs, not dangers: a wire hanging a little low, a step with a corner gone
        "小区路边的电线垂得有点低 麻烦供电局来看看",
        "单元门口的台阶塌了一角 老人进出不方便",
        # over, a film, a joke, a wristband, noise, equipment
        "锅烧干了冒了点烟 已经关火了",
        "孩子被狗追着跑 吓得直哭 现在没事了",
        "昨晚看了个灾难片 里面整栋楼着火 我们这的高楼有云梯吗",
        "他打游戏天天喊救命 开玩笑的 就是太吵",
        "社区发的老人走失防丢手环在哪里领",
        "半夜还有人在楼下喝酒唱歌 吵死了",
        "消火栓的水枪头被人拿走了 箱子空着",
    ],
)
def test_danger_words_that_are_feelings_repairs_films_or_jokes_raise_no_alarm(text: str) -> None:
    assert detect(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "我儿子癫痫发作了 三分钟了还没停",
        "为了捞那只猫 一个小孩掉进去了 被水冲走了",
        "新闻里天天说燃气爆炸 我们楼刚刚就炸了一声 有人在喊",
        "楼上漏水好多天 今天天花板塌下来砸到我妈了",
        "灭火器喷不出来 火已经烧到窗帘上了",
    ],
)
def test_a_danger_told_around_a_dog_the_news_or_a_leak_is_caught(text: str) -> None:
    assert detect(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "你个憨批 问三遍了",
        "丢你老母 等咗成个钟",
        "册那 侬脑子坏脱了",
        "2b客服",
        "狗都比你们有用",
        "真是个智障 回答的什么玩意",
        "信不信我砸了你们的窗口",
        "我早晚弄死你们这帮官僚",
        "真他妈服了你们了",
        "蠢货一个 问什么都不会",
    ],
)
def test_regional_curses_abbreviations_name_calling_and_threats_to_staff_are_abuse(text: str) -> None:
    assert is_abuse_by_rules(text)


@pytest.mark.parametrize(
    "text",
    [
        "2B铅笔在哪买 考试用",
        "昨日你们说会回电话 到现在没打",
        "告诉我妈让她小心点 外面结冰了",
        "楼上装修吵得我们全家不得安宁",
        "我家老六今年上学 学籍怎么办",
        "我们村有个泼妇天天骂街 村委会管不管",
        "孩子老说懂个锤子 这话是哪里的方言",
        "西瓜皮乱扔 小区能管管吗",
    ],
)
def test_the_same_words_said_of_others_or_of_things_are_not_abuse(text: str) -> None:
    assert not is_abuse(text)
