"""Abuse aimed at the assistant or staff, told apart from family words and complaints said with feeling.

A false alarm here costs a resident their answer ("装电梯…能用我爸妈的公积金来付吗？" got
"请文明交流"), so the check is narrow on purpose:

- **Profanity** (傻逼, 操你, 草泥马, 去你妈…) is abuse wherever it appears.
- **Insults** (废物, 白痴, 脑残, 滚…) are abuse when aimed: a person or the service named next to
  them (你们这帮, 客服, 机器人, 政府), or the message being little more than the insult.
- **Expletives** (他妈的, 妈的, tmd, 卧槽) are abuse only when aimed at someone (他妈的你们…);
  an exclamation on its own (卧槽，终于办下来了) is not, and ``他妈的户口`` is someone's mother's.
- **Family words** (爸妈, 妈妈, 他妈妈, 孩子他妈, 我妈的, 姨妈…) and things people call rubbish
  (垃圾分类, 废物回收, 垃圾服务, 破规定) are never abuse by themselves.
"""

from __future__ import annotations

import re
import unicodedata

_PROFANITY = re.compile(
    r"傻[逼比b屄叉x]|煞笔|沙比|傻缺|(?<![a-z])sb(?![a-z])|[操草艹肏]你|cao你|草泥马|操蛋|"
    r"去你[妈大]|你妈[逼b]|你妈了个|尼玛|泥马|你麻痹|麻痹的|nmsl|(?<![a-z])cnm(?![a-z])|狗日|狗屁|吃屎|"
    r"fuck|motherfucker|bitch|混账东西|王八蛋|"
    # aimed by the way they are said
    r"听不懂人话|是不是傻|脑子有病|脑子进水|你是猪|干什么吃的|"
    r"(?:你们|你|这群|这帮|一群|一帮)(?:就是|都是|是)?(?:一群|一帮|这群)?垃圾"
)
_INSULT = re.compile(
    r"废物|垃圾(?:东西|玩意|客服|机器人|人)|脑残|白痴|智障|弱智|狗东西|蠢货|蠢猪|猪脑子|猪脑袋|混蛋|畜生|饭桶|"
    r"人渣|狗官|贱人|神经病|有病|去死|滚|傻子|二百五|笨蛋|死机器人|idiot|stupid|废柴"
)
_NOT_INSULT = re.compile(
    r"废物(?:回收|处理|利用|箱|站)|固体废物|有害废物|滚筒|滚动|滚烫|打滚|滚梯|滚轮|翻滚|"
    r"有病(?:人|历|的|史|了)|神经病(?:人|院|患者)|得了.{0,4}病|去死皮"
)
# someone the words are thrown at: the agent, staff, the service
_TARGET = re.compile(
    r"你|这帮|这群|这些|那帮|一群|一帮|客服|机器人|工作人员|公务员|当官|官员|领导|政府|12345|热线|助手"
)
_EXPLETIVE = re.compile(
    r"(?:他|她|你)妈的|(?<![我他她你爸老姑舅姨大后干奶舅伯妈])妈的|tmd|特么|卧槽|我靠|我操"
)
# ``他妈的`` followed by a thing someone owns is someone's mother's (他妈的户口, 你妈的身份证)
_POSSESSED = re.compile(
    r"[他她你]妈的(?:身份证|户口|户籍|医保|社保|公积金|退休金|养老金|房|材料|证|卡|病|手术|住院|签字|名字|"
    r"电话|手机|工作|单位|事|情况|证明|账户|低保|补贴|档案|照片|遗产)"
)


_POLITE = re.compile(r"你好|您好|请问你|谢谢你|麻烦你|你们好")


def _normalise(text: str) -> str:
    return _POLITE.sub("，", re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).lower()))


def _aimed(text: str, start: int, end: int) -> bool:
    """Whether the words at ``start:end`` are thrown at someone (or make up nearly the whole message)."""
    window = text[max(0, start - 8) : end + 8]
    rest = re.sub(r"[\W_]", "", text[:start] + text[end:])
    return bool(_TARGET.search(window)) or len(rest) <= 3


def is_abuse(text: str) -> bool:
    """An insult, curse or profanity aimed at the assistant or staff."""
    norm = _normalise(text)
    if _PROFANITY.search(norm):
        return True
    cleaned = _NOT_INSULT.sub("", _POSSESSED.sub("", norm))
    for match in _EXPLETIVE.finditer(cleaned):
        words = cleaned[: match.start()] + cleaned[match.end() :]
        if match.group(0).startswith("你") or _TARGET.search(words):
            return True  # 你妈的 (not followed by something she owns), or 他妈的 thrown at someone
    return any(_aimed(cleaned, m.start(), m.end()) for m in _INSULT.finditer(cleaned))
