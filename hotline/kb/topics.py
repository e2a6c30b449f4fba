"""Assigning every knowledge-base entry one topic of the hotline's taxonomy.

The topic lets the dialogue layer prefer entries of the intent the NLU predicted
(``search(..., topic=...)``). Statutes mostly serve known topics (the table in
SOURCES.md); the two general 营商环境 regulations and the service items are sorted by
keywords, because they span the whole taxonomy.
"""

from __future__ import annotations

from hotline.routing import load_taxonomy

#: Keywords that point to a topic, checked against titles and texts.
TOPIC_KEYWORDS: dict[str, tuple[str, ...]] = {
    "start_business": (
        "设立登记",
        "开办企业",
        "企业开办",
        "营业执照",
        "注销登记",
        "变更登记",
        "名称",
        "经营范围",
        "市场主体登记",
        "登记机关",
        "印章",
        "刻章",
        "个体工商户",
        "歇业",
    ),
    "construction_permit": (
        "工程建设",
        "施工",
        "规划许可",
        "建设工程",
        "竣工",
        "验收",
        "施工图",
        "消防",
        "防空地下室",
        "建筑",
    ),
    "business_license": (
        "许可证",
        "经营许可",
        "生产许可",
        "资质",
        "证照分离",
        "告知承诺",
        "行政许可",
        "执业许可",
        "年检",
        "核发",
    ),
    "land": ("用地", "土地", "不动产", "海域", "无居民海岛", "出让", "自然资源"),
    "financing": (
        "融资",
        "贷款",
        "信贷",
        "担保",
        "金融",
        "转贷",
        "质押",
        "授信",
        "征信",
        "保险资金",
    ),
    "tax": (
        "税",
        "发票",
        "纳税",
        "退税",
        "收费",
        "缴费",
        "社会保险费",
        "减税降费",
        "税收",
    ),
    "utilities": (
        "用电",
        "供电",
        "用水",
        "供水",
        "用气",
        "供气",
        "燃气",
        "电网",
        "通信",
        "宽带",
        "报装",
        "水电气",
    ),
    "employment": (
        "劳动",
        "用工",
        "职工",
        "人才",
        "就业",
        "职称",
        "技能",
        "培训",
        "工资",
        "社会保险",
        "养老保险",
        "工伤",
        "招聘",
        "劳务派遣",
    ),
    "policy_benefit": (
        "奖励",
        "补贴",
        "资助",
        "奖补",
        "专项资金",
        "政策兑现",
        "惠企",
        "高新技术企业",
        "专精特新",
        "扶持",
        "免申即享",
        "政策",
    ),
    "ip": ("知识产权", "专利", "商标", "著作权", "版权", "地理标志", "侵权"),
    "procurement": ("招标", "投标", "政府采购", "中标", "采购", "评标", "公共资源交易"),
    "cross_border": (
        "进出口",
        "外商投资",
        "外资",
        "海关",
        "通关",
        "跨境",
        "口岸",
        "出口",
        "进口",
        "原产地",
        "外国",
        "境外",
        "港澳",
    ),
    "contract_dispute": (
        "拖欠",
        "款项",
        "账款",
        "支付",
        "合同纠纷",
        "仲裁",
        "调解",
        "诉讼",
        "破产",
        "履约",
        "违约",
        "清偿",
        "律师",
        "公证",
    ),
    "inspection": (
        "检查",
        "执法",
        "行政处罚",
        "罚款",
        "监管",
        "双随机",
        "信用修复",
        "抽查",
        "包容审慎",
        "监督检查",
    ),
    "misconduct": (
        "工作人员",
        "推诿",
        "不作为",
        "滥用职权",
        "玩忽职守",
        "徇私舞弊",
        "索取",
        "收受",
        "处分",
        "责令改正",
        "投诉举报",
        "问责",
    ),
}

#: Statute file stem → topics it may serve; the first is the default. An empty tuple
#: means "any topic" (the general 营商环境 regulations).
LAW_TOPICS: dict[str, tuple[str, ...]] = {
    "优化营商环境条例(2019-10-22)": (),
    "广东省优化营商环境条例(2022-06-01)": (),
    "保障中小企业款项支付条例(2025-03-17)": ("contract_dispute",),
    "中小企业促进法(2017-09-01)": ("policy_benefit", "financing", "tax"),
    "市场主体登记管理条例(2021-07-27)": ("start_business",),
    "行政许可法(2019-04-23)": ("business_license", "construction_permit", "misconduct"),
    "招标投标法实施条例(2019-03-02)": ("procurement",),
    "政府采购法(2014-08-31)": ("procurement",),
    "劳动合同法(2012-12-28)": ("employment",),
    "专利法(2020-10-17)": ("ip",),
    "商标法(2019-04-23)": ("ip",),
    "外商投资法(2019-03-15)": ("cross_border",),
    "个人所得税法(2018-08-31)": ("tax",),
    "个人独资企业法(1999-08-30)": ("start_business",),
    "产品质量法(2018-12-29)": ("inspection",),
    "价格法(1997-12-29)": ("inspection", "utilities"),
    "企业所得税法(2018-12-29)": ("tax",),
    "促进科技成果转化法(2015-08-29)": ("policy_benefit", "ip"),
    "保障农民工工资支付条例(2019-12-30)": ("employment", "construction_permit"),
    "公司法(2023-12-29)": ("start_business",),
    "公职人员政务处分法(2020-06-20)": ("misconduct",),
    "劳动法(2018-12-29)": ("employment",),
    "印花税法(2021-06-10)": ("tax",),
    "反不正当竞争法(2019-04-23)": ("ip", "inspection"),
    "反垄断法(2022-06-24)": ("ip", "inspection"),
    "合伙企业法(2006-08-27)": ("start_business",),
    "土地管理法(2019-08-26)": ("land",),
    "土地管理法实施条例(2021-07-02)": ("land",),
    "城乡规划法(2019-04-23)": ("land", "construction_permit"),
    "城市房地产管理法(2019-08-26)": ("land", "construction_permit"),
    "增值税法(2024-12-25)": ("tax",),
    "外商投资法实施条例(2019-12-26)": ("cross_border", "start_business"),
    "安全生产法(2021-06-10)": ("inspection", "business_license"),
    "对外贸易法(2022-12-30)": ("cross_border",),
    "就业促进法(2015-04-24)": ("employment", "policy_benefit"),
    "建筑法(2019-04-23)": ("construction_permit",),
    "建设工程质量管理条例(2019-04-23)": ("construction_permit",),
    "招标投标法(2017-12-27)": ("procurement",),
    "政府信息公开条例(2019-04-03)": ("misconduct",),
    "政府采购法实施条例(2015-01-30)": ("procurement",),
    "民法典侵权责任编(2020-05-28)": ("contract_dispute",),
    "民法典合同编(2020-05-28)": ("contract_dispute",),
    "民法典总则(2020-05-28)": ("contract_dispute", "start_business"),
    "民法典物权编(2020-05-28)": ("land", "financing"),
    "海关法(2021-04-29)": ("cross_border",),
    "消防法(2021-04-29)": ("construction_permit", "inspection", "business_license"),
    "环境影响评价法(2018-12-29)": ("construction_permit",),
    "社会保险法(2018-12-29)": ("employment",),
    "税收征收管理法(2015-04-24)": ("tax",),
    "著作权法(2020-11-11)": ("ip",),
    "融资担保公司监督管理条例(2017-08-02)": ("financing",),
    "行政处罚法(2021-01-22)": ("inspection", "misconduct"),
    "行政复议法(2023-09-01)": ("misconduct", "inspection"),
    "行政强制法(2011-06-30)": ("inspection", "misconduct"),
    "计量法(2018-10-26)": ("inspection",),
    "食品安全法(2021-04-29)": ("business_license", "inspection"),
}

#: Topic of a general-regulation article that matches no keyword.
GENERAL_DEFAULT = "policy_benefit"

#: Department name fragment → topic, for service items no keyword decides.
DEPARTMENT_TOPICS: tuple[tuple[str, str], ...] = (
    ("税务", "tax"),
    ("人力资源和社会保障", "employment"),
    ("住房和城乡建设", "construction_permit"),
    ("人民防空", "construction_permit"),
    ("规划和自然资源", "land"),
    ("自然资源", "land"),
    ("电网", "utilities"),
    ("商务", "cross_border"),
    ("海关", "cross_border"),
    ("外事", "cross_border"),
    ("金融", "financing"),
    ("银保监", "financing"),
    ("人民银行", "financing"),
    ("证券", "financing"),
    ("财政", "procurement"),
    ("公共资源交易", "procurement"),
    ("政府采购", "procurement"),
    ("司法", "contract_dispute"),
    ("法院", "contract_dispute"),
    ("科学技术", "policy_benefit"),
    ("工业和信息化", "policy_benefit"),
    ("发展和改革", "policy_benefit"),
    ("市场监督管理", "business_license"),
    ("药品监督管理", "business_license"),
)

#: Service-item type → topic when neither keywords nor the department decide.
ITEM_TYPE_TOPICS: dict[str, str] = {
    "行政许可": "business_license",
    "行政奖励": "policy_benefit",
    "行政给付": "policy_benefit",
    "行政裁决": "contract_dispute",
    "行政确认": "business_license",
    "其他行政权力": "inspection",
}


def topic_names() -> tuple[str, ...]:
    """Topic names in taxonomy order (:func:`hotline.routing.load_taxonomy`)."""
    return tuple(load_taxonomy().topics)


def topic_labels() -> dict[str, str]:
    """Topic name → Chinese label (for listings), from the taxonomy."""
    return {name: topic.zh for name, topic in load_taxonomy().topics.items()}


def keyword_scores(text: str, allowed: tuple[str, ...] = ()) -> dict[str, int]:
    """Keyword hit counts per topic (restricted to ``allowed`` when given)."""
    scores: dict[str, int] = {}
    for topic, words in TOPIC_KEYWORDS.items():
        if allowed and topic not in allowed:
            continue
        n = sum(text.count(w) for w in words)
        if n:
            scores[topic] = n
    return scores


def best_topic(text: str, allowed: tuple[str, ...] = (), default: str = GENERAL_DEFAULT) -> str:
    """Topic with most keyword hits; ties go to the earlier topic in ``allowed``/taxonomy."""
    scores = keyword_scores(text, allowed)
    if not scores:
        return default
    order = allowed or topic_names()
    return max(scores, key=lambda t: (scores[t], -order.index(t)))


def law_topic(law: str, chapter: str, text: str) -> str:
    """Topic of one statute article: the file's topic, or keywords for broad statutes."""
    allowed = LAW_TOPICS.get(law, ())
    if len(allowed) == 1:
        return allowed[0]
    default = allowed[0] if allowed else GENERAL_DEFAULT
    return best_topic(f"{chapter} {text}", allowed, default)


def item_topic(name: str, department: str, item_type: str, conditions: str) -> str:
    """Topic of a service item: its name's keywords, else department, else its type."""
    order = topic_names()
    by_name = keyword_scores(name)
    if by_name:
        return max(by_name, key=lambda t: (by_name[t], -order.index(t)))
    for fragment, topic in DEPARTMENT_TOPICS:
        if fragment in department:
            return topic
    by_text = keyword_scores(conditions)
    if by_text:
        return max(by_text, key=lambda t: (by_text[t], -order.index(t)))
    return ITEM_TYPE_TOPICS.get(item_type, "business_license")
