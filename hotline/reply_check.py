"""Reply check (答复质量检查): what a department's 办结 reply leaves out, before it is sent.

Why: an enterprise rates the answer, not the effort (一事一评). A reply that does not
answer what was asked, says nothing of what was done, gives no basis, leaves the
enterprise without a next step or a person to call — or is only set phrases (已收悉、
按规定办理、请咨询相关部门) — is the reply most likely to come back 不满意. The check runs
when the reply is written, shows staff what is missing (they may still send), and the
warnings are stored with the reply (:class:`~hotline.models.ReplyCheck`), so the
dashboard can show whether the check predicts dissatisfaction.

Each warning is a plain rule, readable and explainable to the staff who see it:

- ``off_topic``: the request's key terms (its rarest words and wording classes, by the
  hot-issue featurizer) — less than ``KEY_COVERAGE`` of their weight is found in the reply;
- ``no_action``: no completed or decided action (已协调/已拨付/经研究，同意…/将于…前…);
- ``no_basis``: neither a named statute or policy (《…》、第…条、文号) nor a finding
  (经核查/经调查/查明/经现场勘查…); "按规定" alone is no basis;
- ``no_next_step``: nothing the enterprise can do next (如…可…/请于…/可申请…/届时…);
- ``no_contact``: no telephone number (nor a person or office with one);
- ``boilerplate``: once the set phrases are taken out, almost nothing is left; it is then
  the only warning (the rest is implied).

The rules were written against the dev half of a hand-labelled set and measured on the
held-out half (``make eval-replies``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hotline.textnorm import normalize

CODES = ("off_topic", "no_action", "no_basis", "no_next_step", "no_contact", "boilerplate")
MESSAGES = {
    "off_topic": "答复没有回应企业诉求的要点（未提到：{terms}）。",
    "no_action": "没有说明已经做了什么或作出了什么决定（如“经协调，已于…完成…”“经研究，同意…”）。",
    "no_basis": "没有说明依据：法规政策的名称或条款、文件文号，或核查查明的事实（“按规定”不算依据）。",
    "no_next_step": "没有告诉企业下一步可以怎么做（如“如仍有异议，可于…申请…”“请于…携带…办理”）。",
    "no_contact": "没有留下联系人和联系电话。",
    "boilerplate": "答复只有套话（如“已收悉”“按规定办理”“请咨询相关部门”），没有实质内容。",
}
TITLES = {
    "off_topic": "未回应诉求", "no_action": "未说明办理结果", "no_basis": "未说明依据",
    "no_next_step": "未告知下一步", "no_contact": "未留联系方式", "boilerplate": "套话答复",
}
KEY_TERMS = 8  # the request's heaviest words that the reply should touch (any one will do)
KEY_MIN_RARITY = 6.0  # words more common than this (in general Chinese) are no key words
OFF_TOPIC_SIMILARITY = 0.08  # below this cosine, a reply sharing no key word is off topic
BOILERPLATE_LEFT = 12  # characters left after the set phrases: less is boilerplate

_BOILERPLATE = re.compile("|".join((
    r"(?:您|你)(?:好|的|反映的|所反映的|提出的)?(?:问题|诉求|情况|意见|来电|来信|建议)?(?:我们|我局|我委|我办)?(?:已|已经)?(?:收悉|收到|知悉|知道了|记录)",
    r"来(?:电|信)已?收悉", r"已?收悉", r"已收到", r"已知悉", r"收到[，。]?",
    r"(?:此事|该问题|这个问题|您的诉求|你的诉求|您的来信|您的来电)",
    r"(?:我们|我局|我委|我办|我中心)?(?:将|会|正在)?(?:高度重视|认真研究|妥善处理|尽快处理|及时处理|依法依规处理|依法处理|按规定办理|按程序办理|按照规定办理|按照相关规定及时处理|按照有关规定处理|会同有关部门研究办理|认真研究处理)",
    r"(?:按|按照|根据|依照)(?:相关|有关)?(?:规定|程序|要求)(?:办理|处理|执行)?",
    r"(?:请|建议)?(?:您|你)?(?:咨询|联系|询问)(?:相关|有关)(?:部门|单位)", r"请耐心等待", r"耐心等待",
    r"(?:已|已经)?(?:转交|转至|转给|转)(?:相关|有关)(?:部门|单位)(?:处理|办理)?",
    r"(?:感谢|谢谢)(?:您|你)?(?:的)?(?:来电|来信|反馈|理解|支持|监督|宝贵意见|意见)?(?:和支持|与支持|和理解)?",
    r"(?:相关|有关)(?:部门|单位)会?(?:依法依规|按规定|尽快)?(?:处理|办理|答复)",
    r"(?:会|将)?(?:尽快|及时)(?:给您|给你)?(?:答复|处理|办理|回复)", r"有结果后?(?:会)?通知(?:您|你)",
    r"请留意后续通知", r"请按相关部门要求执行", r"正在处理中", r"不断(?:提升|改进|提高)\S{0,6}",
    r"(?:加强|进一步加强)管理", r"我们|我局|我委|我办|我中心|您好|你好|谢谢|您|你", r"(?:该问题属于)\S{0,6}",
    r"通过法律途径解决", r"将?会?按规定", r"对(?:环保|我们的)?工作的支持",
    r"(?:，|。|！|、|；|：|\s|,|\.|!)",
)))
_ACTION = re.compile("|".join((
    r"(?:已|已经|现已|目前已|均已|并已|已于|已在)[^，。；]{0,14}?(?:核实|核查|调查|查明|协调|联系|约谈|督促|责令|责成|安排|办理|办结|完成|恢复|拨付|发放|退还|退回|受理|审核|批准|通过|核准|下达|出具|处理|整改|告知|解决|调整|派员|上门|到账|修复|抢修|复核|更正|撤销|撤回|立案|答复|补发|兑现|支付|付清|审批|核发|开通|放行|装船|签订|送达|列入|纳入|发出|下架|通报|批评|约谈|指定|寄送|修复|开具|提交|报送|分配|指导|同意|修订|取消|恢复|更换|通知|开展|建立|设立|增设|新开|实行|落实|推动|部署|组织|明确|制定|反馈|整改到位|清理|暂停|启动|提醒|要求)",
    r"已于\d{1,2}月\d{1,2}日", r"(?:已|已经)(?:将|把|对|向|为|与|和|会同)[^。；]{1,30}?(?:进行|作出|完成|调整|列入|纳入|告知|送达|办理|撤回)",
    r"经(?:研究|协调|约谈|复核|审查)[，,]?(?:[^，。]{0,6})?(?:同意|决定|不予|准予|予以|确认|认定|撤销)",
    r"(?:决定|同意|不予|准予|予以)(?:受理|批准|撤销|延长|退还|支付|恢复|核发|登记|立案|采纳|变更)",
    r"(?:将于|将在|预计|计划于|计划在|承诺于|承诺在)[^。；]{0,20}?(?:前|内|日|月)[^。；]{0,12}?(?:完成|办结|到账|付清|支付|发证|核发|恢复|入住|完工|拨付|开通|送电|审核|答复|处理)",
    r"(?:审核|审批|复核|核查|调查|抢修)(?:已|已经)?(?:通过|完成|办结)",
    r"(?:已|已经)(?:核准|拨付|退还|恢复|撤销|下架|签订|支付|办结|放行)",
    r"(?:确属|确有|属实|情况属实)",
)))
_BASIS = re.compile("|".join((
    r"《[^》]{2,40}》", r"第[一二三四五六七八九十百零\d]+条", r"[〔\[（(]\d{4}[〕\]）)][^\s，。]{0,6}号",
    r"\d{4}年第\d+号", r"[国财税人发]\S{0,6}〔\d{4}〕\d+号",
    r"经(?:核查|核实|调查|查明|调取|查询|现场|检测|审核|审查|复核|了解|查|测算|排查|比对|勘查|调查核实)",
    r"(?:查明|经查|核查发现|调查发现|现场勘查|现场排查|现场核查|系统显示|记录显示|数据显示|监控录像|核查结果)",
    r"(?:原因(?:为|是|系)|系因|是因为|因[^，。]{2,30}(?:导致|所致|造成))",
    r"(?:条例|办法|规定|意见|公告|通知|细则|规程|规则|协定|合同)第[^，。]{1,8}条",
    r"(?:合同|协议)(?:中|里)?(?:约定|第)",
)))
_NEXT = re.compile("|".join((
    r"(?:如|若|如果|倘若)(?:贵司|贵单位|贵店|您|你|企业|对方|届时|对|再|仍|后续|今后|需|有|因|确|采购人|该行|该人才)[^。]{0,40}?(?:可|请|应|可以|将)",
    r"(?:贵司|贵单位|贵店|您|企业|员工)?(?:可|可以|可于|可在|可向|可通过|可凭|可直接|可再|可选择|可申请|可拨打|可登录|可携带|可致电|可整理|可使用|可预约)(?:[^。]{0,3})(?:于|在|向|通过|登录|携带|持|凭|申请|提起|拨打|联系|前往|到|直接|再次|继续|查询|选择|整理|使用|下载|预约|领取|申领|办理|提交|致电|为|核对|依法|按|自行)",
    r"请(?:贵司|贵单位|贵店|您)?(?:于|在|携带|登录|前往|及时|按|持|关注|留意|准备|补充|补交|提交|核对|查收|通过|到|凭|注意|尽快|在收到)",
    r"(?:下一步|后续(?:可|请|申报|申请)|今后(?:如|遇|可|申报)|届时|以后如|下次[^。]{0,10}可)",
    r"建议(?:贵司|贵单位|贵店|您|企业)",
    r"请(?:贵司|贵单位|贵店|您)?(?:重新|再次|直接|自行|尽快|及时|按照|按)(?:提交|申请|办理|申报|联系|补充|补交|上传|登录|前往|提出)",
    r"(?:申请行政复议|提起行政诉讼|提起(?:民事)?诉讼|申请复查|申请复评|申请复核|请求宣告无效|提起仲裁|申请支付令)",
    r"(?:领证后|补交后|补正后|材料齐全|补齐后)[^。]{0,12}(?:即可|可|即)",
    r"(?:可在|可于|可到|可通过)",
)))
_CONTACT = re.compile("|".join((
    r"(?:0\d{2,3}[-－—\s]?)\d{7,8}", r"1[3-9]\d{9}", r"(?<!\d)(?:12345|12366|12333|12315|12348|95598|96110)(?!\d)",
    r"(?:联系人|经办人|联系电话|咨询电话|监督电话|客服专线|咨询专线|服务热线)[：:]?\s?\S",
)))
_PHONE = re.compile(r"(?:0\d{2,3}[-－—\s]?)?\d{7,8}|1[3-9]\d{9}|123\d\d|95598")


@dataclass(frozen=True)
class Finding:
    code: str
    title: str
    message: str


@dataclass(frozen=True)
class ReplyReview:
    findings: tuple[Finding, ...]
    key_terms: tuple[str, ...]
    missing_terms: tuple[str, ...]

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    @property
    def ok(self) -> bool:
        return not self.findings


def _finding(code: str, **fields: str) -> Finding:
    return Finding(code, TITLES[code], MESSAGES[code].format(**fields))


def _substance(text: str) -> str:
    """What is left of the reply without set phrases and punctuation."""
    return _BOILERPLATE.sub("", text)


_FUNCTION_TAGS = ("m", "t", "r", "p", "c", "u", "q", "d", "f", "y", "e", "o", "z", "b", "a")


def key_terms(request: str) -> list[tuple[str, float]]:
    """The request's rarest content words (jieba precise mode: no sub-word fragments) and
    its wording classes, heaviest first."""
    from hotline.hot.features import get_featurizer

    f = get_featurizer()
    text = f.clean(request)
    weights: dict[str, float] = {}
    for word, flag, _, _ in f.tokenizer.tagged(text):
        if len(word) < 2 or (flag.startswith(_FUNCTION_TAGS) and flag != "an"):
            continue
        idf, _ = f.idf(word)
        if idf >= KEY_MIN_RARITY:
            weights[word] = max(weights.get(word, 0.0), idf)
    for word_class in f.classes:
        if word_class.count(text):
            weights[word_class.name] = f.idf(word_class.name)[0] * 0.8
    return sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:KEY_TERMS]


def _in_order(short: str, long: str) -> bool:
    rest = iter(long)
    return all(ch in rest for ch in short)


def _covered(term: str, reply: str, reply_words: list[str]) -> bool:
    """Whether the reply mentions ``term``: the word itself, most of its character pairs
    (进项票 / 进项税额), an abbreviation of it (技改 / 技术改造, 城投 / 城市建设投资), or
    any word of its wording class."""
    from hotline.hot.features import get_featurizer

    if term.startswith("§"):
        return any(c.count(reply) for c in get_featurizer().classes if c.name == term)
    if term in reply:
        return True
    pairs = [term[i:i + 2] for i in range(len(term) - 1)]
    if pairs and sum(p in reply for p in pairs) * 2 > len(pairs):
        return True
    return len(term) >= 4 and any(
        2 <= len(w) < len(term) and w[0] == term[0] and not term.startswith(w)
        and _in_order(w, term) for w in reply_words)


def check(request: str, reply: str) -> ReplyReview:
    """The warnings for ``reply`` to ``request`` (both as written; normalized here)."""
    from hotline.hot.features import get_featurizer

    text = normalize(reply or "")
    keys = key_terms(request or "")
    if len(_substance(text)) < BOILERPLATE_LEFT:
        return ReplyReview((_finding("boilerplate"),), tuple(t for t, _ in keys), ())
    findings = []
    f = get_featurizer()
    reply_words = [w for w, _, _, _ in f.tokenizer.tagged(text)]
    missing = [t for t, _ in keys if not _covered(t, text, reply_words)]
    if keys and len(missing) == len(keys):
        # none of the request's key words: off topic unless the texts still look alike
        a, b = f.embed(request or ""), f.embed(text)
        if sum(w * b.get(t, 0.0) for t, w in a.items()) < OFF_TOPIC_SIMILARITY:
            shown = [t.lstrip("§") for t in missing][:4]
            findings.append(_finding("off_topic", terms="、".join(shown)))
    if not _ACTION.search(text):
        findings.append(_finding("no_action"))
    if not _BASIS.search(text):
        findings.append(_finding("no_basis"))
    if not _NEXT.search(text):
        findings.append(_finding("no_next_step"))
    if not _CONTACT.search(text) and not _PHONE.search(text):
        findings.append(_finding("no_contact"))
    return ReplyReview(tuple(findings), tuple(t.lstrip("§") for t, _ in keys),
                       tuple(t.lstrip("§") for t in missing))
