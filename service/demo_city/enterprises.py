"""Seeded generator of the demo city's enterprise registry (2,400 enterprises).

Fields are what a city's market-supervision, tax, social-insurance and statistics data
would share for 免申即享 matching. A few values are left blank on purpose (records
are never complete), so matching meets real ``missing_data`` cases.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from service.demo_city.geography import CITY, DISTRICTS
from tools.enterprises.credit_code import CODE_CHARS, check_char

_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]

# (行业门类, 行业代码, 名称用词, 权重)
INDUSTRIES = [
    ("制造业", "C39", "电子科技", 10), ("制造业", "C35", "智能装备", 8), ("制造业", "C38", "电气", 7),
    ("制造业", "C27", "生物医药", 4), ("制造业", "C26", "新材料", 5), ("制造业", "C13", "食品", 5),
    ("制造业", "C18", "服饰", 4), ("信息传输、软件和信息技术服务业", "I65", "软件", 12),
    ("信息传输、软件和信息技术服务业", "I64", "网络科技", 5), ("批发和零售业", "F51", "贸易", 10),
    ("批发和零售业", "F52", "商贸", 8), ("住宿和餐饮业", "H62", "餐饮管理", 6), ("住宿和餐饮业", "H61", "酒店管理", 2),
    ("科学研究和技术服务业", "M73", "研究院", 4), ("科学研究和技术服务业", "M75", "技术服务", 4),
    ("建筑业", "E48", "建设工程", 4), ("交通运输、仓储和邮政业", "G54", "物流", 4),
    ("电力、热力、燃气及水生产和供应业", "D44", "能源", 1), ("租赁和商务服务业", "L72", "企业管理咨询", 5),
]  # fmt: skip
_TECH = {"C39", "C35", "C38", "C27", "C26", "I65", "I64", "M73", "M75"}
_INDUSTRIAL = ("B", "C", "D")
_BRANDS = list("华创恒瑞鼎盛新科博远启明卓越天成汇通中联宏达金泰云帆智源安信德润嘉禾凯旋星海东方锦程")

HEADER = [
    "统一社会信用代码", "名称", "行业门类", "行业代码", "规模", "注册区", "成立日期", "员工数", "参保人数",
    "营业收入万元", "纳税额万元", "研发费用万元", "高新技术企业", "高企认定年度", "高企认定类型",
    "专精特新等级", "专精特新认定年度", "规上工业企业", "首次规上年度", "限上商贸企业", "首次限上年度",
    "出口额万美元", "上年裁员人数", "上年失业保险缴费万元", "上年新招高校毕业生人数", "绿色工厂等级",
    "绿色工厂认定年度", "信用等级", "严重失信", "欠缴税款", "拖欠工资", "重大安全事故",
]  # fmt: skip


def _org_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - 55


def _org_code(rng: random.Random) -> str:
    body = [rng.choice(CODE_CHARS) for _ in range(8)]
    check = 11 - sum(_org_value(c) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True)) % 11
    return "".join(body) + {10: "X", 11: "0"}.get(check, str(check))


def credit_code(region: str, rng: random.Random) -> str:
    """A unified social credit code with a valid GB 32100-2015 check character."""
    body = "91" + region + _org_code(rng)
    return body + check_char(body)


def _scale(employees: int, revenue: float) -> str:
    if employees >= 1000 and revenue >= 40000:
        return "大型"
    if employees >= 300 and revenue >= 2000:
        return "中型"
    if employees >= 20 and revenue >= 300:
        return "小型"
    return "微型"


def _yes(rng: random.Random, p: float) -> str:
    return "是" if rng.random() < p else "否"


def _level(rng: random.Random, probs: list[tuple[str, float]]) -> str:
    roll = rng.random()
    for name, p in probs:
        if roll < p:
            return name
        roll -= p
    return "无"


def enterprise(i: int, rng: random.Random, names: set[str]) -> dict[str, object]:
    """One enterprise record."""
    sector, code, word, _ = rng.choices(INDUSTRIES, weights=[x[3] for x in INDUSTRIES])[0]
    district = rng.choice(list(DISTRICTS))
    region = DISTRICTS[district][0]
    while True:
        name = f"{CITY}{rng.choice(_BRANDS)}{rng.choice(_BRANDS)}{word}有限公司"
        if name not in names:
            names.add(name)
            break
        if rng.random() < 0.3:
            word = word + "发展"
    founded = date(1996, 1, 1) + timedelta(days=rng.randrange(0, 365 * 29))
    employees = max(1, int(rng.lognormvariate(3.4, 1.2)))
    revenue = round(employees * rng.lognormvariate(3.6, 0.6), 1)  # 万元
    tech = code in _TECH
    high_tech = tech and rng.random() < 0.35 and employees >= 10
    ht_year = rng.choice([2019, 2020, 2021, 2022, 2023, 2024, 2024]) if high_tech else ""
    industrial = code[0] in _INDUSTRIAL
    above_scale = industrial and revenue >= 2000
    trade_limit = {"F51": 2000, "F52": 500, "H61": 200, "H62": 200}.get(code)
    above_limit = trade_limit is not None and revenue >= trade_limit
    srdi = _level(rng, [("国家级专精特新小巨人", 0.03), ("省级专精特新", 0.08), ("市级专精特新", 0.12)])
    srdi = srdi if (industrial or tech) and employees >= 15 else "无"
    green = _level(rng, [("国家级", 0.02), ("省级", 0.05), ("市级", 0.08)]) if industrial else "无"
    insured = max(1, int(employees * rng.uniform(0.8, 1.0)))
    row: dict[str, object] = {
        "统一社会信用代码": credit_code(region, rng),
        "名称": name,
        "行业门类": sector,
        "行业代码": code,
        "规模": _scale(employees, revenue),
        "注册区": district,
        "成立日期": founded.isoformat(),
        "员工数": employees,
        "参保人数": insured,
        "营业收入万元": revenue,
        "纳税额万元": round(revenue * rng.uniform(0.015, 0.08), 1),
        "研发费用万元": round(revenue * rng.uniform(0.01, 0.12), 1)
        if tech
        else round(revenue * rng.uniform(0, 0.02), 1),
        "高新技术企业": "是" if high_tech else "否",
        "高企认定年度": ht_year,
        "高企认定类型": (rng.choice(["首次", "重新认定"]) if high_tech else ""),
        "专精特新等级": srdi,
        "专精特新认定年度": rng.choice([2022, 2023, 2024]) if srdi != "无" else "",
        "规上工业企业": "是" if above_scale else "否",
        "首次规上年度": rng.choice([2019, 2021, 2023, 2024]) if above_scale else "",
        "限上商贸企业": "是" if above_limit else "否",
        "首次限上年度": rng.choice([2020, 2022, 2024]) if above_limit else "",
        "出口额万美元": round(revenue / 7.1 * rng.uniform(0.1, 0.7), 1)
        if code[0] in "CF" and rng.random() < 0.3
        else 0,
        "上年裁员人数": int(insured * rng.choice([0, 0, 0, 0.02, 0.04, 0.08, 0.25])),
        "上年失业保险缴费万元": round(insured * rng.uniform(0.06, 0.12), 2),
        "上年新招高校毕业生人数": int(rng.random() < 0.4) * rng.randint(1, max(1, employees // 10)),
        "绿色工厂等级": green,
        "绿色工厂认定年度": rng.choice([2023, 2024]) if green != "无" else "",
        "信用等级": rng.choices("ABCD", weights=[60, 30, 7, 3])[0],
        "严重失信": _yes(rng, 0.02),
        "欠缴税款": _yes(rng, 0.03),
        "拖欠工资": _yes(rng, 0.01),
        "重大安全事故": _yes(rng, 0.01),
    }
    # Shared data is never complete: leave a few values unknown.
    for field in ("研发费用万元", "上年失业保险缴费万元", "信用等级", "上年裁员人数"):
        if rng.random() < 0.03:
            row[field] = ""
    return row


def generate(count: int, seed: int) -> list[dict[str, object]]:
    """``count`` enterprises, the same for the same seed."""
    rng = random.Random(seed)
    names: set[str] = set()
    return [enterprise(i, rng, names) for i in range(count)]
