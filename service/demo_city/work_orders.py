"""Seeded generator of the demo city's historical 12345 work orders (1,200 orders).

Each template belongs to the department the responsibility list makes responsible;
slots (place, duration, time) and the caller's wording vary, so no two orders read
alike. Callers' phone numbers appear masked, as they do in real exports.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from service.demo_city.geography import CITY, DISTRICTS, ESTATES, ROADS, STREET_OFFICES, street_district

HEADER = [
    "工单编号",
    "受理时间",
    "来源渠道",
    "标题",
    "诉求内容",
    "地址",
    "区",
    "街道",
    "类别",
    "紧急程度",
    "处置部门",
]

# department -> (category, [(urgency, title, body), ...]); {place} {dur} {when} are filled in.
TEMPLATES: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "市公安局": ("公共安全", [
        ("一般", "咨询户口迁入办理", "想把户口从外省迁到{place}，问需要哪些材料、能不能网上办"),
        ("一般", "居住证签注问题", "居住证快到期了，问签注在哪里办，{place}附近派出所周末是否上班"),
        ("紧急", "楼下聚会喧哗扰民", "{place}楼下每天{when}有人聚会喝酒大声喧哗，已持续{dur}，严重影响休息"),
        ("一般", "小区有人养大型犬", "{place}有住户养了一条大型犬，出门不拴绳，小孩老人都很害怕"),
    ]),
    "市公安局交通警察支队": ("交通运输", [
        ("紧急", "路口红绿灯不亮", "{place}路口的红绿灯{dur}不亮了，车辆行人抢行，很危险"),
        ("一般", "车辆违停堵路", "{place}路边长期有车辆违停，占了半条道，早晚高峰堵得厉害"),
        ("一般", "消防通道被占", "{place}消防通道被私家车长期占用，多次劝说无效"),
    ]),
    "市人力资源和社会保障局": ("劳动和社会保障", [
        ("紧急", "公司拖欠工资", "在{place}的一家公司上班，公司已经拖欠工资{dur}，老板一直推脱，要求帮助讨薪"),
        ("一般", "单位未缴社保", "单位入职{dur}一直没给交社保，问怎么维权"),
        ("一般", "灵活就业社保补贴咨询", "自己是离校一年的毕业生，灵活就业，问社保补贴怎么申请、能补多少"),
        ("一般", "失业金申领咨询", "刚被公司辞退，想问失业保险金在哪里申请，需要什么材料"),
    ]),
    "市医疗保障局": ("劳动和社会保障", [
        ("一般", "异地就医报销问题", "在外地住院{dur}，回来报销时说没有备案，报销比例降低了，想了解怎么补办"),
        ("一般", "居民医保缴费咨询", "问明年城乡居民医保什么时候开始交，每人交多少钱"),
        ("一般", "新生儿医保参保", "小孩出生一个多月，问新生儿医保怎么参保，出生以来的费用能不能报"),
    ]),
    "市住房公积金管理中心": ("劳动和社会保障", [
        ("一般", "租房提取公积金", "在{place}租房住，想提取公积金付房租，问每月能提多少"),
        ("一般", "单位欠缴公积金", "单位已经{dur}没有给职工缴公积金了，问怎么处理"),
    ]),
    "市住房和城乡建设局": ("城乡建设", [
        ("紧急", "工地夜间施工扰民", "{place}附近的工地每天晚上十一点以后还在施工，噪音很大，已经{dur}了"),
        ("一般", "物业不作为", "{place}物业公司长期不管事，电梯坏了{dur}没人修，垃圾也没人清"),
        ("一般", "加装电梯审批咨询", "{place}老楼想加装电梯，问业主同意比例要求和补助多少"),
        ("一般", "工地扬尘严重", "{place}旁边的建筑工地没有覆盖裸土，风一吹全是灰"),
    ]),
    "市教育局": ("教育文体", [
        ("一般", "随迁子女入学咨询", "孩子今年上小学，父母在{place}有居住证和社保，问怎么报名入学"),
        ("一般", "学校收取额外费用", "{place}附近一所学校开学要求家长交资料费，问是否合规"),
        ("一般", "校外培训机构退费难", "在{place}一家培训机构报了课，机构关门了，{dur}退不了费"),
    ]),
    "市城市管理局": ("市容环境", [
        ("一般", "占道经营", "{place}人行道上有流动摊贩占道经营，{when}油烟大、垃圾多，行人只能走机动车道"),
        ("一般", "垃圾清运不及时", "{place}垃圾桶满了{dur}没人清运，臭味很大，招苍蝇"),
        ("一般", "违章搭建", "{place}有住户在楼顶违章搭建彩钢房，担心安全问题"),
        ("一般", "路灯不亮", "{place}一段路灯坏了{dur}，晚上一片漆黑，行人很不安全"),
        ("一般", "共享单车乱停", "{place}地铁口共享单车乱停乱放，把盲道都堵了"),
    ]),
    "市交通运输局": ("交通运输", [
        ("一般", "公交班次太少", "{place}公交站的车{when}间隔四十多分钟一班，建议增加班次"),
        ("紧急", "路面塌陷坑洼", "{place}路面出现一个大坑，已有电动车摔倒，请尽快修补"),
        ("一般", "出租车拒载", "{when}在{place}打车，出租车司机嫌路近拒载"),
    ]),
    "市民政局": ("民政事务", [
        ("一般", "低保申请咨询", "家里老人生病花销大，收入低，问在{place}怎么申请低保"),
        ("一般", "高龄津贴未到账", "家中老人今年满八十岁，高龄津贴{dur}还没到账"),
        ("一般", "养老院服务差", "{place}一家养老院护工态度差，老人吃不好，希望监管"),
    ]),
    "市卫生健康委员会": ("卫生计生", [
        ("一般", "医院服务态度差", "在{place}附近一家医院看病，排队{dur}，医生态度很差"),
        ("一般", "疫苗接种预约难", "孩子要打疫苗，{place}社区卫生服务中心一直约不上号"),
        ("一般", "出生医学证明办理", "孩子出生证明信息填错了，问去哪里更正"),
    ]),
    "市生态环境局": ("环境保护", [
        ("紧急", "工厂排放刺鼻气体", "{place}附近一家工厂{when}排放刺鼻气体，开窗就闻到，已经{dur}了"),
        ("一般", "餐馆油烟扰民", "{place}楼下餐馆油烟直排，没有装净化设备，家里窗户都是油"),
        ("紧急", "河道发现污水直排", "{place}附近河道有管道往河里排黑水，河面有死鱼"),
    ]),
    "市市场监督管理局": ("商贸旅游", [
        ("一般", "超市售卖过期食品", "在{place}一家超市买到过期的牛奶，要求处理"),
        ("一般", "预付卡商家跑路", "{place}一家健身房办卡后突然关门，卡里还有几千元"),
        ("紧急", "电梯故障频繁", "{place}电梯{dur}内故障好几次，还困过人，怀疑没按时检验"),
        ("一般", "商家价格欺诈", "{place}一家商店标价和结账价格不一致"),
    ]),
    "市水务局": ("公用事业", [
        ("紧急", "下水道堵塞污水外溢", "{place}下水道堵塞，污水漫到路面，已经{dur}，气味难闻"),
        ("紧急", "暴雨后路段积水", "{when}下大雨后{place}积水很深，车辆熄火，请排涝"),
        ("一般", "窨井盖缺失", "{place}人行道上一个窨井盖没了，只放了个塑料桶，很危险"),
    ]),
    "市园林绿化局": ("园林绿化", [
        ("紧急", "树木倒伏压住道路", "{place}一棵大树被风刮倒，压在路上，车辆无法通行"),
        ("一般", "行道树遮挡需修剪", "{place}行道树枝叶太密，挡住了住户窗户和路灯"),
        ("一般", "公园设施损坏", "{place}附近公园的健身器材坏了{dur}没人修"),
    ]),
    "市科学技术局": ("政务服务", [
        ("一般", "高企奖励咨询", "公司在{place}，去年首次认定为高新技术企业，问奖励是否需要申请"),
        ("一般", "研发费用补助咨询", "企业研发投入较大，问研发费用补助的条件和确认流程"),
    ]),
    "市工业和信息化局": ("政务服务", [
        ("一般", "专精特新奖励咨询", "公司去年被认定为省级专精特新，问奖励什么时候兑付"),
        ("一般", "小升规奖励咨询", "企业去年首次进入规上工业企业名录，问十万元奖励是否到账"),
    ]),
    "市商务局": ("商贸旅游", [
        ("一般", "出口信保补助申请", "外贸公司投保了出口信用保险，问保费补助怎么申请、截止时间"),
        ("一般", "限上企业奖励咨询", "餐饮企业去年首次纳入限上统计，问奖励政策"),
    ]),
    "市财政局": ("政务服务", [
        ("一般", "创业担保贷款贴息", "小微企业申请了创业担保贷款，问贴息什么时候拨付"),
    ]),
    "市政务服务管理局": ("政务服务", [
        ("一般", "网上办事系统故障", "在政务服务网上办理业务，提交时一直报错，已经{dur}了"),
        ("一般", "新生儿一件事办理", "孩子刚出生，问新生儿出生一件事能一次办哪些事项"),
        ("一般", "窗口工作人员态度", "在政务服务大厅办事，窗口工作人员态度不好，让跑了好几趟"),
    ]),
    "市残疾人联合会": ("民政事务", [
        ("一般", "盲道被占用", "{place}盲道被店铺摆放的货物占用，视障人士无法通行"),
        ("一般", "残疾人补贴咨询", "家里有重度残疾人，问残疾人两项补贴怎么申请"),
        ("一般", "缺少无障碍通道", "{place}附近的公共服务场所没有无障碍坡道，轮椅进不去"),
    ]),
    "市应急管理局": ("公共安全", [
        ("紧急", "违规储存危险品", "{place}有商铺在店里堆放大量液化气罐，担心有安全隐患"),
        ("一般", "违规售卖烟花爆竹", "{place}路边有人无证售卖烟花爆竹"),
    ]),
    "市文化广电旅游局": ("教育文体", [
        ("一般", "旅行团强制购物", "参加本地一日游，导游强制购物，要求投诉旅行社"),
        ("一般", "网吧接纳未成年人", "{place}一家网吧接纳未成年人上网"),
    ]),
    f"{CITY}供水集团有限公司": ("公用事业", [
        ("特急", "供水管道爆裂", "{place}供水管道爆裂，水喷得很高，路面已经被淹"),
        ("紧急", "小区停水", "{place}从{when}开始停水，没有收到任何通知，已经{dur}了"),
        ("一般", "水压不足", "{place}高层水压不足，{when}用水时水龙头几乎没水"),
        ("一般", "自来水发黄", "{place}自来水发黄有异味，不敢饮用"),
    ]),
    f"{CITY}燃气集团有限公司": ("公用事业", [
        ("特急", "闻到燃气味疑似泄漏", "{place}楼道里有很浓的燃气味，怀疑燃气泄漏，请马上派人"),
        ("一般", "燃气表故障", "{place}家里燃气表不走字，充了值也用不了"),
        ("紧急", "突然停气", "{place}{when}突然停气，没法做饭，也没有通知"),
    ]),
    f"国网{CITY}供电公司": ("公用事业", [
        ("紧急", "小区停电", "{place}从{when}开始停电，已经{dur}，冰箱里东西都坏了"),
        ("特急", "电线断落", "{place}有一根电线断落在人行道上，还冒火花，非常危险"),
        ("一般", "电费异常", "家里这个月电费比平时多了一倍，怀疑电表有问题"),
    ]),
}  # fmt: skip

STREET_TEMPLATES: list[tuple[str, str, str, str]] = [
    ("社区治理", "一般", "邻里纠纷", "{place}楼上住户经常往楼下扔垃圾、晾衣服滴水，沟通无果，请社区调解"),
    ("社区治理", "一般", "无物业小区卫生差", "{place}是没有物业的老旧小区，楼道堆满杂物，垃圾没人清理"),
    ("社区治理", "一般", "流浪狗扰民", "{place}附近有几条流浪狗，晚上乱叫，还追小孩"),
    ("社区治理", "一般", "垃圾分类指导", "{place}垃圾分类桶设置不合理，居民不知道怎么分，建议社区指导"),
    ("社区治理", "一般", "业委会选举问题", "{place}业主委员会换届选举程序不公开，业主有意见"),
    ("社区治理", "一般", "楼道堆物堵塞", "{place}楼道被住户堆放杂物和电动车，存在消防隐患"),
]  # fmt: skip

OPENERS = [
    "市民来电反映：",
    "市民反映：",
    "来电人称，",
    "网友留言：",
    "市民通过移动端反映，",
    "",
    "诉求人表示，",
]
CLOSERS = [
    "，希望有关部门尽快处理。", "，请相关部门核实处理。", "，要求给个说法。", "。", "，多次反映未解决，希望督办。",
    "，请尽快派人来看看。", "，希望回电告知处理结果。",
]  # fmt: skip
DURATIONS = ["两天", "三天", "一个星期", "半个月", "一个多月", "好几天", "今天一早"]
WHENS = ["晚上", "凌晨", "早上", "每天傍晚", "周末", "中午", "下午三点"]
CHANNELS = ["电话", "电话", "电话", "网站", "移动端", "智能客服"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林罗高"


def _place(rng: random.Random, street: str) -> str:
    district = street_district(street)
    if rng.random() < 0.6:
        estate = rng.choice(ESTATES[street])
        return f"{district}{street}{estate}{rng.randint(1, 30)}栋"
    road = rng.choice(ROADS[street])
    return f"{district}{road}{rng.randint(1, 300)}号"


def _caller(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return ""
    who = f"{rng.choice(SURNAMES)}{rng.choice(['先生', '女士'])}"
    phone = f"1{rng.choice('3578')}{rng.randint(0, 9)}****{rng.randint(0, 9999):04d}"
    return f"（来电人：{who}，联系电话：{phone}）"


def work_order(i: int, rng: random.Random, start: datetime) -> dict[str, object]:
    """One historical order."""
    street = rng.choice(list(STREET_OFFICES))
    if rng.random() < 0.14:
        category, urgency, title, body = rng.choice(STREET_TEMPLATES)
        department = STREET_OFFICES[street]
    else:
        department = rng.choice(list(TEMPLATES))
        category, options = TEMPLATES[department]
        urgency, title, body = rng.choice(options)
    place = _place(rng, street)
    text = body.format(place=place, dur=rng.choice(DURATIONS), when=rng.choice(WHENS))
    text = rng.choice(OPENERS) + text + rng.choice(CLOSERS) + _caller(rng)
    created = start + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
    return {
        "工单编号": f"SL{created:%Y%m%d}{i:05d}",
        "受理时间": created.strftime("%Y-%m-%d %H:%M"),
        "来源渠道": rng.choice(CHANNELS),
        "标题": title,
        "诉求内容": text,
        "地址": f"{CITY}{place}" if "{place}" in body else "",
        "区": street_district(street) if "{place}" in body else "",
        "街道": street if "{place}" in body else "",
        "类别": category,
        "紧急程度": urgency,
        "处置部门": department,
    }


def generate(count: int, seed: int) -> list[dict[str, object]]:
    """``count`` orders over the year 2024, the same for the same seed, oldest first."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1)
    orders = [work_order(i, rng, start) for i in range(count)]
    orders.sort(key=lambda o: str(o["受理时间"]))
    return orders


assert set(DISTRICTS)  # the geography module is the single source of the map
