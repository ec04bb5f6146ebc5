"""Abuse aimed at the assistant or staff, told apart from family words and complaints said with feeling.

A false alarm here costs a resident their answer ("装电梯…能用我爸妈的公积金来付吗？" got
"请文明交流"), so the check is narrow on purpose:

- **Profanity** (傻逼, 操你, 草泥马, 去你妈…) is abuse wherever it appears, and so are regional curses
  (憨批, 丢你老母, 册那, 日你先人), abbreviations (2b, nt), comparisons (狗都比你们有用) and threats to
  staff (弄死你们, 去你们单位门口堵你, 信不信我…你).
- **Insults** (废物, 白痴, 脑残, 滚, 沙雕, 瓜皮…) are abuse when aimed: a person or the service named next
  to them (你们这帮, 客服, 机器人, 政府), a name called (真是个智障, 你个瓜皮), or the message being little
  more than the insult.
- **Expletives** (他妈的, 妈的, tmd, 卧槽) are abuse only when aimed at someone (他妈的你们…);
  an exclamation on its own (卧槽，终于办下来了) is not, and ``他妈的户口`` is someone's mother's.
- **Family words** (爸妈, 妈妈, 他妈妈, 孩子他妈, 我妈的, 姨妈…) and things people call rubbish
  (垃圾分类, 废物回收, 垃圾服务, 破规定) are never abuse by themselves.

Words are matched by the context that makes them abuse, not by a list of exceptions: ``妈的`` is an
expletive only where a clause starts (any character before it makes it someone's mother's: 孩子妈的,
俺妈的, 宝妈的); ``草你``/``操你`` only as the curse (not 小区的草你们多久修剪, 体操你们在哪报名);
``你们垃圾`` only when 垃圾 is what they are called (not 你们垃圾清运几点来); and an insult word whose
own clause describes someone else (我妈有病, 我家孩子是智障) is not aimed at the service.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from agents.resident import textscore

_CJK = "\u4e00-\u9fa5"
_PROFANITY = re.compile(
    r"傻[逼比b屄叉x]|煞笔|沙比|傻缺|(?<![a-z0-9])sb(?![a-z0-9])|"
    # 操/草 + 你 only as the curse (草你们多久修剪一次 is the lawn, 体操你们在哪报名 the exercise)
    r"(?<![体早广做出课节情])[操草艹肏]你"
    r"(?:妈|马|娘|大爷|祖宗|全家|个|奶奶|老母|们?(?:这|那|一)?[帮群]|(?=[^" + _CJK + r"]|$))|"
    r"cao你|草泥马|操蛋|"
    r"去你(?:妈(?![妈家那里这])|大爷(?![家那]))|你妈[逼b]|你妈了个|你麻痹|(?<![" + _CJK + r"])麻痹的|"
    r"nmsl|(?<![a-z0-9])cnm(?![a-z0-9])|狗日|狗屁|(?<!狗)吃屎|"
    # 尼玛 is also a name (尼玛次仁): the curse stands alone, or is said to someone
    r"(?<![" + _CJK + r"])(?:尼玛|泥马)的?(?![" + _CJK + r"])|(?:尼玛|泥马)(?=[个逼啊呀])|你(?:尼玛|泥马)|"
    r"fuck|motherfucker|bitch|混账东西|王八蛋|"
    # regional curses and abbreviations (Sichuan, Cantonese, Shanghai; 2b, nt)
    r"憨批|憨b|哈批|(?<![a-z0-9])2b(?=[^a-z0-9铅]|$)|(?<![a-z0-9])nt(?=[吧啊呀你]|$)|二逼|"
    r"(?<![节生假昨今明每])日你(?:妈|娘|先人|祖宗|大爷|全家|个)|(?:丢|屌|diu)你(?:老母|老味|个|妈|$|(?=[^"
    + _CJK
    + r"]))|"
    r"顶你个肺|死扑街|冚家铲|懂个(?:锤子|屁|毛线?|球|鸡毛)|册那|脑子坏(?:脱|掉)了|"
    r"是人是狗|狗都比你|猪都比你|(?:比|还不如)(?:狗|猪)(?:都)?(?:有用|强|聪明)|"
    r"(?:弱智|智障|白痴|脑残|傻|蠢|废物)(?:玩意儿?|东西)|(?:白痴|智障|弱智|脑残)一样的(?:回答|答复|系统|服务|客服)|"
    r"(?<![" + _CJK + r"])孙子，(?=有本事|你(?:丫|个|给我|等着))|"
    # threats to staff
    r"(?:弄死|打死|砍死|杀了|宰了|废了)你|(?:去|到|在).{0,10}堵你(?![们家])|(?:去|到)你们.{0,8}(?:砍|堵|砸)|"
    r"我知道(?:你|他|她)(?:们)?(?:家)?住(?:哪|在)|让你(?:们)?(?:小心点|等着瞧|好看)|(?:让|叫)(?:他|她)(?:们)?(?:等着瞧|好看)|"
    r"你给我等着|你们?全家不得安宁|有你好看|信不信我.{0,12}你|(?:砸|烧|炸)了?你们的?(?:窗口|单位|办公室|大楼|大厅)|"
    r"脑子有坑|脑袋被门夹|脑子被驴踢|你(?:这人|这个人|丫)?(?:是不是|怕不是)有毛?病|(?:是|都是)死人(?:吗|啊|吧)|"
    # aimed by the way they are said
    r"听不懂人话|是不是傻|傻了吧唧|去你的(?![" + _CJK + r"])|脑子进水|干什么吃的|人工智障|"
    r"(?:你|你们|客服|机器人|工作人员|领导)(?:是|都是|就是)(?:猪|狗|驴)(?![肉圈年毛粮])|"
    r"(?:你们|你)(?:这种|这个|这)垃圾(?:部门|单位|机构|政府|热线|客服|系统)|"
    r"(?:聋了|瞎了)还是|你(?:是)?(?:聋|瞎)(?:了|子|吗|啊)|滚远点|滚开|滚蛋|滚犊子|滚出去|给我滚|你滚|滚吧|(?:你|你们)(?:算|是)(?:个|什么|啥)(?:东西|玩意)|算老几|"
    # 垃圾 said of a person, not 你们垃圾分类/清运/站
    r"(?:你们|你|这群|这帮|一群|一帮)(?:就是|都是|是)?(?:一群|一帮|这群)?垃圾"
    r"(?:$|(?=[^" + _CJK + r"])|(?=一样|透顶|东西|玩意|[吧啊呀嘛吗]))"
)
_INSULT = re.compile(
    r"废物|垃圾(?:东西|玩意|客服|机器人|人)|脑残|白痴|智障|弱智|狗东西|蠢货|蠢猪|猪脑子|猪脑袋|混蛋|畜生|饭桶|"
    r"人渣|狗官|贱人|神经病|有病|去死|滚|傻子|二百五|笨蛋|死机器人|idiot|stupid|废柴|没用的东西|不是东西|孙子|"
    r"死客服|蠢得|蠢死|(?:跟|像)猪一样|"
    r"沙雕|泼妇|扑街|仆街|瓜皮|瓜娃子|老六|杂种|戆大|蠢驴|蠢蛋|2b"
)
_NOT_INSULT = re.compile(
    r"废物(?:回收|处理|利用|箱|站)|固体废物|有害废物|滚筒|滚动|滚烫|打滚|滚梯|滚轮|翻滚|滚(?:下|落|到|进|过来|过去|来滚去|水)|"
    r"(?<![这帮群些个])孙子|有病(?:人|历|的|史|了)|神经病(?:人|院|患者)|得了.{0,4}病|去死皮|家畜生|二百五(?=[十0-9元块])|"
    r"智障(?:儿童|人士|人员|学生|孩子|残疾|证)|弱智(?:儿童|人士|孩子|学生)|智力障碍|西瓜皮|杂种狗|"
    r"2b铅笔"
)
# someone the words are thrown at: the agent, staff, the service
_TARGET = re.compile(
    r"你|侬|这帮|这群|这些|那帮|一群|一帮|客服|机器人|工作人员|公务员|当官|官员|领导|政府|12345|热线|助手"
)
# An expletive is said at the start of a clause (妈的，… / 真他妈的…); after any other character
# 妈的 is someone's mother's (孩子妈的户口, 俺妈的医保卡, 宝妈的产假),
# and 我靠/我操 followed by more words is a verb (我靠低保生活, 我操作不来).
_EXPLETIVE = re.compile(
    r"(?<![" + _CJK + r"])[操艹靠](?![" + _CJK + r"])|"
    r"(?:他|她|你)妈的|(?:(?<![" + _CJK + r"])|(?<=[真去特]))妈的|tmd|tm的|特么|卧槽|"
    r"(?<=[真太就我你都又还])他妈(?![妈])|"
    r"(?<![" + _CJK + r"])我[靠操c](?![" + _CJK + r"a-z])"
)
# ``他妈的`` followed by a thing someone owns is someone's mother's (他妈的户口, 你妈的身份证)
_POSSESSED = re.compile(
    r"[他她你]妈的(?:身份证|户口|户籍|医保|社保|公积金|退休金|养老|房|材料|证|卡|病|手术|住院|签字|名字|"
    r"电话|手机|工作|单位|事|情况|证明|账户|低保|补贴|档案|照片|遗产|保险|银行|存款|钱|车|家|身体|腿|"
    r"丧葬|抚恤|残疾|户|墓|后事|名下|信息|资料|申请|待遇|工资|医药费|药)"
)


_POLITE = re.compile(r"你好|您好|请问你|谢谢你|麻烦你|你们好")


def normalise(text: str) -> str:
    """What the rules and the model read: NFKC, lower case, greetings (你好, 谢谢你) blanked.

    A space between words is a clause break, as in WeChat (狗东西 我的投诉呢).
    """
    out = unicodedata.normalize("NFKC", text).lower().strip()
    out = re.sub(r"(?<=[" + _CJK + r"])\s+|\s+(?=[" + _CJK + r"])", "，", out)
    return _POLITE.sub("，", re.sub(r"\s+", "", out))


# Someone the insult word describes who is not the service: 我妈有病, 我家孩子是智障, 老人有病在身
_OTHER_SUBJECT = re.compile(
    r"我|妈|爸|爷|奶|孩子|儿子|女儿|老人|老公|老婆|丈夫|妻子|家人|亲戚|邻居|朋友|同事|婆婆|公公|外婆|外公|姥"
)
_CLAUSE_END = re.compile(r"[，。！？!?,.;；…~、\n]")
# Someone else's words, reported: 邻居骂我傻逼, 楼道里骂人说什么草泥马, 办事员跟我说你是不是傻,
# 我被人在网上骂傻逼. The speaker is not the resident speaking to us (你说…, 我说你们…), and the
# insult follows within the same clause.
_REPORTED = re.compile(
    r"(?<!你)骂|(?<![我你])(?:说|称|讲|吼|嚷|写着?)|(?<![我你])(?:叫|喊)(?!你|人来|领导|来)|"
    r"(?:跟|对|和|给|冲|朝)(?:我|我们|他|她|人|孩子|大家)(?:说|讲|喊|吼|嚷|骂)"
)
_QUOTE_WINDOW = 12


def _described_other(text: str, start: int) -> bool:
    """Whether, in the insult's own clause, the nearest person before it is not the service."""
    clause = _CLAUSE_END.split(text[:start])[-1]
    others = [m.end() for m in _OTHER_SUBJECT.finditer(clause)]
    targets = [m.end() for m in _TARGET.finditer(clause)]
    return bool(others) and (not targets or max(others) > max(targets))


def _reported(text: str, start: int) -> bool:
    """Whether the words at ``start`` are someone else's, quoted by the resident (骂我…, 跟我说…)."""
    before = text[max(0, start - _QUOTE_WINDOW) : start]
    clause = _CLAUSE_END.split(before)[-1]
    return bool(_REPORTED.search(clause))


def _alone_in_clause(text: str, end: int) -> bool:
    """Whether the words ending at ``end`` close their clause, which they began (a name called: 狗东西，…)."""
    following = _CLAUSE_END.split(text[end:])[0]
    return not re.sub(r"[\W_吧啊呀嘛]|^一(?:个|群|帮)", "", following)


_NAME_CALLING = re.compile(r"(?:(?:真|就|简直|纯)是个|你(?:这|这个|个))$")


def _aimed(text: str, start: int, end: int) -> bool:
    """Whether the words at ``start:end`` are thrown at someone (or make up nearly the whole message)."""
    if _described_other(text, start) or _reported(text, start):
        return False
    clause = _CLAUSE_END.split(text[:start])[-1]
    if _NAME_CALLING.search(clause) and len(clause) <= 4:
        return True  # 真是个智障，… / 你个瓜皮: a name called at the start of a clause
    clause = _CLAUSE_END.split(text[:start])[-1]
    if _TARGET.search(clause):
        return True  # 你们12345的人都是白痴吗: the service named earlier in the insult's clause
    if not re.sub(r"[\W_]", "", clause) and _alone_in_clause(text, end):
        return True
    window = text[max(0, start - 8) : end + 8]
    rest = re.sub(r"[\W_]", "", text[:start] + text[end:])
    return bool(_TARGET.search(window)) or len(rest) <= 3


def is_abuse_by_rules(text: str) -> bool:
    """The rules' reading: an insult, curse or profanity aimed at the assistant or staff."""
    norm = normalise(text)
    if any(not _reported(norm, m.start()) for m in _PROFANITY.finditer(norm)):
        return True
    cleaned = _NOT_INSULT.sub("", _POSSESSED.sub("", norm))
    for match in _EXPLETIVE.finditer(cleaned):
        if _reported(cleaned, match.start()):
            continue
        words = cleaned[: match.start()] + cleaned[match.end() :]
        if match.group(0).startswith("你") or _TARGET.search(words):
            return True  # 你妈的 (not followed by something she owns), or 他妈的 thrown at someone
    return any(_aimed(cleaned, m.start(), m.end()) for m in _INSULT.finditer(cleaned))


@cache
def model() -> textscore.CharGramModel:
    """The shipped character n-gram model (head ``abuse``)."""
    return textscore.load("abuse")


def abuse_probability(text: str) -> float:
    """The model's probability that the message is abuse."""
    return model().probabilities(normalise(text))["abuse"]


def is_abuse(text: str) -> bool:
    """An insult, curse or profanity aimed at the assistant or staff.

    The rules first; where they find none, the model may still say so, but only of a message that
    addresses someone (你, 你们, 客服, 政府…): words aimed at nobody are an exclamation or a complaint.
    """
    if is_abuse_by_rules(text):
        return True
    return model_may_speak(text) and abuse_probability(text) >= model().threshold


def quotes_someone(text: str) -> bool:
    """Whether a curse or insult in the message is someone else's, reported (邻居骂我傻逼，我要投诉)."""
    norm = normalise(text)
    cleaned = _NOT_INSULT.sub("", _POSSESSED.sub("", norm))
    return any(_reported(norm, m.start()) for m in _PROFANITY.finditer(norm)) or any(
        _reported(cleaned, m.start()) for p in (_INSULT, _EXPLETIVE) for m in p.finditer(cleaned)
    )


def model_may_speak(text: str) -> bool:
    """Whether the rules leave the message to the model.

    They found no abuse, it addresses someone, and no curse in it is someone else's the resident reports
    (the model would read the quoted word).
    """
    return not is_abuse_by_rules(text) and bool(_TARGET.search(normalise(text))) and not quotes_someone(text)
