"""Demo data (演示数据): departments, enterprises and a few hundred tickets with history.

Why this module exists: the console, the statistics and the bot's progress answers are
only convincing with a realistic workload behind them — tickets of every topic and
status, mostly answered on time and rated 满意, some late, some reopened after 不满意.
Every ticket is played through :mod:`hotline.lifecycle` with explicit times, so its
events, ratings and deadlines obey the same rules as real ones.

Reproducible and idempotent: ticket ``i`` of seed ``s`` is drawn from its own random
generator and marked with the conversation id ``demo:<s>:<i>``, so running again adds
nothing, and a larger ``--count`` adds only the missing tickets. ``demo:`` conversations
belong to no channel, so the demo sends no notifications. Dates are relative to ``now``
(the last ``days`` days); enterprises are fictional, their USCCs valid (check digits from
``python-stdnum``), their districts and division codes those of 苏州.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.cn import uscc

from hotline import lifecycle, routing, sla, tickets
from hotline.models import Department, Enterprise, RatingLevel, Ticket

DEMO_PREFIX = "demo"
ENTERPRISE_COUNT = 40

DISTRICTS: tuple[tuple[str, str], ...] = (
    ("姑苏区", "320508"), ("虎丘区", "320505"), ("吴中区", "320506"), ("相城区", "320507"),
    ("吴江区", "320509"), ("苏州工业园区", "320594"), ("昆山市", "320583"),
    ("常熟市", "320581"), ("张家港市", "320582"), ("太仓市", "320585"),
)
BRANDS = (
    "华兴", "恒瑞", "中科", "金桥", "鼎盛", "新锐", "瑞丰", "德信", "宏达", "天成", "汇通", "博远",
    "晨光", "佳禾", "东方", "凯盛", "利民", "永新", "万通", "同创", "青禾", "远航", "亿联", "启明",
)
INDUSTRIES = (
    "精密制造", "新材料科技", "电子科技", "生物医药", "食品", "物流", "建筑工程", "软件技术",
    "纺织", "环保科技", "智能装备", "医疗器械", "跨境电商", "餐饮管理", "汽车零部件", "光电科技",
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ("建国", "海燕", "志强", "丽华", "晓东", "静", "伟", "敏", "磊", "婷", "俊杰", "雪梅", "立新", "红")
MOBILE_PREFIXES = ("139", "138", "137", "136", "158", "159", "188", "186", "177", "151")

TOPIC_WEIGHTS: dict[str, int] = {
    "tax": 12, "financing": 11, "employment": 10, "utilities": 9, "policy_benefit": 9,
    "business_license": 7, "start_business": 7, "contract_dispute": 6, "land": 5,
    "construction_permit": 5, "inspection": 5, "procurement": 4, "cross_border": 4, "ip": 4,
    "misconduct": 2,
}

DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "start_business": (
        "我们准备在{district}新设一家{industry}公司，网上提交设立登记已经{days}天了还显示“审核中”，想问下卡在哪个环节，什么时候能领执照。",
        "公司想变更经营范围，增加“{industry}”相关业务，窗口说需要前置许可，但没讲清楚要哪些材料，能否一次性告知？",
        "新办企业刻章、申领发票、社保开户能不能一次办完？我们已经跑了{times}趟窗口，每次都说缺材料。",
    ),
    "construction_permit": (
        "我司在{district}的新建厂房项目（建筑面积约{area}平方米）施工许可申请提交已{days}个工作日，系统一直未受理，影响开工，请协调。",
        "厂房扩建的规划许可和施工图审查能否并联办理？目前要求先审图后许可，工期要拖{months}个月。",
        "项目竣工联合验收预约不上，消防验收一直排不到，已经影响设备进场投产。",
    ),
    "business_license": (
        "我们的{license}到期需要延续，提交材料后被退回{times}次，每次意见都不一样，希望给一个明确的材料清单。",
        "申请{license}，现场核查已经做完{days}天了，还没有出结果，客户订单等不了。",
        "{license}地址变更能不能全程网办？窗口要求法定代表人必须本人到场。",
    ),
    "land": (
        "我司{year}年在{district}摘牌的工业用地，至今不动产权证书还没办下来，影响向银行抵押贷款。",
        "厂房想分割转让一部分给关联企业，相关部门说不能分割，请问政策依据是什么，有没有变通办法？",
        "企业用地红线内有一处历史遗留建筑，整改方案报上去{months}个月了没有答复。",
    ),
    "financing": (
        "{bank}突然要求我们提前归还{amount}万元流动资金贷款，说是额度收紧，企业资金周转非常困难，希望协调续贷。",
        "申请了政策性“{loan}”贷款，银行说担保公司没批，担保公司又说等银行，来回推了{weeks}周。",
        "我们是科技型中小企业，有{patents}项发明专利，想办知识产权质押融资，不知道找哪家银行、有没有贴息。",
    ),
    "tax": (
        "增值税专用发票领用额度不够，每月只有{invoices}份，业务量上来了开票不够用，申请调增一直没有回复。",
        "{year}年度研发费用加计扣除申报后系统提示异常，专管员让补资料，补了之后还是没有通过。",
        "出口退税申报已经{days}天了，退税款迟迟未到账，企业现金流压力很大。",
    ),
    "utilities": (
        "我们厂区近{months}个月已经停电{times}次，每次都没有提前通知，生产线损失很大，请供电部门给个说法。",
        "新厂房申请用电增容到{kva}千伏安，报装提交{days}天了还没有安排现场勘查。",
        "园区天然气管道一直没有接到我们厂门口，燃气公司说要企业自己承担{amount}万元接驳费，是否合理？",
    ),
    "employment": (
        "企业招不到{job}，听说有人才引进补贴，具体怎么申请？需要哪些材料？",
        "我们申请的稳岗返还资金到现在还没到账，系统显示“审核中”已经{months}个月。",
        "有员工离职后申请劳动仲裁，企业想了解用工合规方面的指导，能否安排人员上门辅导？",
    ),
    "policy_benefit": (
        "我司去年获评“{title}”，按政策应有{amount}万元奖励，材料交了{months}个月还没兑现。",
        "{year}年技术改造补贴申报已通过公示，资金一直没有拨付，请问具体什么时候到位？",
        "惠企政策太多，不知道我们{industry}企业能享受哪些，能否提供“免申即享”政策清单？",
    ),
    "ip": (
        "我们的注册商标“{brand}”被他人在电商平台上仿冒使用，已经投诉{times}次，平台一直不处理。",
        "发明专利申请想走优先审查通道，不知道地方知识产权部门能否出具推荐意见。",
        "企业核心技术资料被离职员工带到竞争对手那里，想咨询商业秘密保护的途径。",
    ),
    "procurement": (
        "参加{district}一个政府采购项目投标，结果公示后我们认为评分有问题，提出质疑{days}天了没有答复。",
        "政府采购项目已经验收{months}个月，采购人迟迟不支付尾款{amount}万元。",
        "项目结束{weeks}周了，投标保证金还没有退回，能否督促退还？",
    ),
    "cross_border": (
        "我们一批出口{goods}在海关查验环节滞留了{days}天，国外客户催货，能否协调加快通关？",
        "想了解RCEP原产地证书怎么申领，我们出口日本的{goods}能否享受关税减让？",
        "跨境电商出口后退货的商品，退运进口手续太复杂，希望给予指导。",
    ),
    "contract_dispute": (
        "{district}一家国有企业拖欠我司工程款{amount}万元，已超过合同约定付款期{months}个月，多次催讨无果。",
        "与合作方的合同纠纷，法院判决生效{months}个月了还没有执行到位，企业快撑不下去了。",
        "作为中小企业，被大型企业以“背靠背”条款拖欠货款{amount}万元，想了解有哪些维权途径。",
    ),
    "inspection": (
        "一个月内被不同部门上门检查了{times}次，内容大同小异，严重影响正常生产，能否合并检查？",
        "因为产品标签上一个轻微的标识问题被罚款{fine}元，我们认为属于首次轻微违法，应当免予处罚。",
        "执法人员上门检查时没有出示执法证件，也没有出具书面检查记录，想反映这个情况。",
    ),
    "misconduct": (
        "去窗口办事，工作人员态度生硬，材料没有一次性说清楚，让我们来回跑了{times}趟。",
        "某部门经办人员对我们的申请一直拖着不办，也不说明理由，存在“推拖绕”现象。",
        "审批过程中有工作人员暗示我们找指定的中介机构，否则不予通过。",
    ),
}

REPLIES: dict[str, tuple[str, ...]] = {
    "start_business": (
        "经核查，贵司设立登记材料中公司章程签署页缺少股东签字，已电话告知经办人补正；补正后已于当日核准登记，电子营业执照可在线下载。",
        "已为贵司开通“一窗通办”：刻章、发票申领、社保开户可在政务服务中心综合窗口一次办结，所需材料清单已短信发送至联系人手机。",
    ),
    "construction_permit": (
        "经协调，贵司项目施工许可已于今日核发。后续竣工验收可通过工程建设项目审批平台在线预约联合验收。",
        "根据工程建设项目审批制度改革要求，规划许可与施工图审查可并联办理，已安排专人对接，预计压缩审批时间约一个月。",
    ),
    "business_license": (
        "已核实，贵司许可延续申请所缺材料为近一年的自查报告，我局已将完整材料清单一次性告知，补齐后3个工作日内办结。",
        "现场核查结论已于今日审核通过，许可证件已制作完成，可选择邮寄或窗口领取。",
    ),
    "land": (
        "经查，贵司地块因土地出让金滞纳金尚未缴清导致不动产登记暂缓，已与财政部门协调分期缴纳，缴清后5个工作日内发证。",
        "根据现行规定，工业用地上的厂房原则上不得分割转让，符合条件的可按“工业上楼”政策申请，具体条件已电话告知。",
    ),
    "financing": (
        "经协调，银行同意对贵司到期贷款办理无还本续贷，并纳入普惠小微贷款名单，客户经理将于近日联系贵司。",
        "已将贵司纳入政府性融资担保“白名单”，担保公司与银行已完成联合审批，贷款预计本周内发放。",
    ),
    "tax": (
        "经审核，已为贵司调增增值税专用发票月领用数量，并开通数电发票，可通过电子税务局自行开具。",
        "经核实，贵司申报异常系研发项目备案信息不一致所致，已指导更正，现已审核通过，退（抵）税款将于近期到账。",
    ),
    "utilities": (
        "经供电公司排查，停电系附近线路老化所致，已完成线路改造；今后计划停电将提前3天通知企业联系人。",
        "已安排客户经理上门勘查，增容方案已确定，配套工程由供电公司投资建设，企业无需承担红线外费用。",
    ),
    "employment": (
        "人才引进补贴可通过“人才服务平台”在线申报，所需材料包括劳动合同、社保缴纳证明和学历证书，已电话指导经办人。",
        "经查，贵司稳岗返还资金已完成审核，因银行账户信息有误被退回，已协助更正，资金将于5个工作日内拨付。",
    ),
    "policy_benefit": (
        "经核实，贵司奖励资金已完成审核，正在走财政拨付流程，预计本月底前到账。",
        "已为贵司推送适用的惠企政策清单，其中3项为“免申即享”，符合条件的将自动兑现。",
    ),
    "ip": (
        "已将贵司商标侵权线索移交市场监管执法部门，并协调电商平台下架相关侵权商品链接。",
        "贵司专利符合优先审查条件，我局已出具推荐意见，请在国家知识产权局系统提交优先审查请求。",
    ),
    "procurement": (
        "经查，采购人已收到贵司质疑函，评审小组已完成复核，书面答复将于3个工作日内送达。",
        "已督促采购人按合同约定支付尾款，采购人承诺10个工作日内完成支付。",
    ),
    "cross_border": (
        "经与海关协调，贵司货物已完成查验放行，后续可申请“提前申报”“两步申报”提高通关效率。",
        "RCEP原产地证书可通过国际贸易“单一窗口”在线申领，符合原产地规则的货物可享受协定税率。",
    ),
    "contract_dispute": (
        "经协调，欠款单位已与贵司签订还款协议，承诺分两期支付全部欠款，我局将跟踪督促履行。",
        "已引导贵司申请商事调解，并协调法院加快执行进度，执行法官将与贵司联系。",
    ),
    "inspection": (
        "已将相关检查事项纳入“综合查一次”，今后同一季度内对贵司的检查原则上合并进行。",
        "经复核，贵司违法行为属于首次轻微违法且已及时改正，依法决定不予行政处罚，已撤销原处罚决定。",
    ),
    "misconduct": (
        "经调查，反映情况属实，已对相关工作人员批评教育并调整岗位，向贵司致歉。",
        "已约谈相关部门负责人，责令限期办结贵司申请，并将该问题纳入作风建设专项整治台账。",
    ),
}

COMMENTS = ("办理速度快，点赞！", "答复很详细，谢谢", "问题解决了，感谢热线", "希望以后能更快一些",
            "工作人员很负责", "答复没有解决实际问题")
LICENSES = ("食品经营许可证", "危险化学品经营许可证", "医疗器械经营许可证", "道路运输经营许可证")
BANKS = ("某国有银行支行", "某股份制银行分行", "农村商业银行", "城市商业银行")
LOANS = ("苏科贷", "小微贷", "园易融", "科技贷")
JOBS = ("高级数控技工", "软件工程师", "化验员", "注塑技工", "电气工程师")
TITLES = ("专精特新中小企业", "高新技术企业", "省级智能工厂", "瞪羚企业")
GOODS = ("机电产品", "纺织品", "光伏组件", "医疗器械", "家具")


@dataclass(frozen=True)
class SeedResult:
    departments: int
    enterprises: int
    created: int
    skipped: int


def demo_conversation(seed: int, index: int) -> str:
    """The marker of demo ticket ``index`` of ``seed`` (also why it is never notified)."""
    return f"{DEMO_PREFIX}:{seed}:{index:04d}"


# --- departments and enterprises ----------------------------------------------------------


def ensure_departments(session: Session) -> list[Department]:
    """Every department of the routing table, with a service phone."""
    names = dict.fromkeys(t.department for t in routing.load_taxonomy().topics.values())
    departments = []
    for i, name in enumerate(names):
        dept = tickets.department_named(session, name)
        if dept.phone is None:
            dept.phone = f"0512-6{i + 1:02d}{(i * 37) % 100:02d}000"
        departments.append(dept)
    return departments


def _org_code(rng: random.Random) -> str:
    """A 9-character organisation code (GB 11714): 8 characters and their check character."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "MA" + "".join(rng.choice(alphabet) for _ in range(6))
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(ch, 36) * w for ch, w in zip(body, weights))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def make_uscc(rng: random.Random, division: str) -> str:
    """A valid 18-character USCC: 9 (市场监管) 1 (企业), division, org code, check digit."""
    first17 = f"91{division}{_org_code(rng)}"
    return first17 + uscc.calc_check_digit(first17)


def ensure_enterprises(session: Session, seed: int) -> list[Enterprise]:
    rng = random.Random(f"enterprises:{seed}")
    pairs = rng.sample([(b, i) for b in BRANDS for i in INDUSTRIES], ENTERPRISE_COUNT)
    result = []
    for brand, industry in pairs:
        district, division = rng.choice(DISTRICTS)
        code = make_uscc(rng, division)
        suffix = "股份有限公司" if rng.random() < 0.15 else "有限公司"
        contact = rng.choice(SURNAMES) + rng.choice(GIVEN)
        phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        company = session.scalar(select(Enterprise).where(Enterprise.uscc == code))
        if company is None:
            company = Enterprise(uscc=code, name=f"苏州{brand}{industry}{suffix}",
                                 contact_name=contact, contact_phone=phone, district=district)
            session.add(company)
        result.append(company)
    session.flush()
    return result


# --- tickets ------------------------------------------------------------------------------


def _description(rng: random.Random, topic: str, company: Enterprise) -> str:
    brand = company.name.removeprefix("苏州")[:2]
    industry = next((i for i in INDUSTRIES if i in company.name), "制造")
    fillers = {
        "district": company.district or "园区", "industry": industry, "brand": brand,
        "days": rng.randint(5, 30), "times": rng.randint(2, 6), "area": rng.randrange(3000, 50000, 500),
        "months": rng.randint(2, 8), "weeks": rng.randint(2, 6), "year": rng.choice((2023, 2024, 2025)),
        "amount": rng.choice((50, 80, 120, 200, 300, 500, 800, 1200)), "bank": rng.choice(BANKS),
        "loan": rng.choice(LOANS), "patents": rng.randint(2, 15), "invoices": rng.choice((25, 50)),
        "kva": rng.choice((630, 800, 1250, 2000)), "job": rng.choice(JOBS),
        "title": rng.choice(TITLES), "license": rng.choice(LICENSES), "goods": rng.choice(GOODS),
        "fine": rng.choice((2000, 5000, 10000)),
    }
    text = rng.choice(DESCRIPTIONS[topic]).format(**fillers)
    if rng.random() < 0.3:
        text += rng.choice(("麻烦尽快处理，谢谢！", "联系人电话见登记信息。", "盼复。", ""))
    return text


def _staff(rng: random.Random) -> str:
    return f"staff:{rng.choice(SURNAMES)}{rng.choice(('科长', '主任', '专员', '经办人'))}"


def _created_at(rng: random.Random, now: datetime, days: int) -> datetime:
    local_now = sla.as_local(now)
    day = local_now.date() - timedelta(days=int(rng.random() * days))
    hour = rng.choice((8, 9, 9, 10, 10, 10, 11, 11, 14, 14, 15, 15, 16, 16, 17, 19, 21))
    moment = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=sla.TZ)
    return min(moment, now - timedelta(minutes=30)).astimezone(timezone.utc)


def _level(rng: random.Random, late: bool) -> RatingLevel:
    roll = rng.random()
    dissatisfied, basic = (0.15, 0.35) if late else (0.02, 0.10)
    if roll < dissatisfied:
        return RatingLevel.DISSATISFIED
    if roll < basic:
        return RatingLevel.BASICALLY_SATISFIED
    return RatingLevel.SATISFIED


def _play(session: Session, rng: random.Random, ticket: Ticket, now: datetime) -> None:
    """Take, answer and rate the ticket as far as ``now`` allows (up to two rounds)."""
    staff = _staff(rng)
    start = ticket.created_at
    for round_ in range(2):
        if round_ == 0 and rng.random() < 0.04:
            return  # never signed for: becomes a red light once its deadline passes
        taken = start + timedelta(hours=rng.uniform(0.5, 30))
        if taken > now:
            return
        lifecycle.take(session, ticket, actor=staff, now=taken)
        late = rng.random() < 0.09
        if late:
            answered = ticket.deadline + timedelta(hours=rng.uniform(2, 96))
        else:
            answered = taken + (ticket.deadline - taken) * rng.uniform(0.1, 0.9)
        if answered > now:
            return
        lifecycle.resolve(session, ticket, rng.choice(REPLIES[ticket.topic]), actor=staff,
                          now=answered)
        if rng.random() > 0.85:
            return  # not every enterprise rates
        rated = answered + timedelta(hours=rng.uniform(0.2, 72))
        if rated > now:
            return
        comment = rng.choice(COMMENTS) if rng.random() < 0.2 else None
        outcome = lifecycle.rate(session, ticket, _level(rng, late), comment,
                                 conversation_id=ticket.conversation_id, now=rated)
        if not outcome.reopened:
            return
        start = rated


def seed_demo(
    session: Session,
    *,
    count: int = 300,
    seed: int = 7,
    now: datetime | None = None,
    days: int = 120,
) -> SeedResult:
    """Add the demo data that is missing (see the module docstring); no commit."""
    if count < 0:
        raise ValueError("count must be ≥ 0")
    now = now or datetime.now(timezone.utc)
    departments = ensure_departments(session)
    companies = ensure_enterprises(session, seed)
    prefix = f"{DEMO_PREFIX}:{seed}:"
    existing = set(session.scalars(
        select(Ticket.conversation_id).where(Ticket.conversation_id.like(f"{prefix}%"))
    ))
    topics = list(TOPIC_WEIGHTS)
    weights = [TOPIC_WEIGHTS[t] for t in topics]
    plans = []
    for index in range(count):
        key = demo_conversation(seed, index)
        if key in existing:
            continue
        rng = random.Random(key)
        plans.append((_created_at(rng, now, days), index, key, rng))
    for created, _index, key, rng in sorted(plans, key=lambda p: (p[0], p[1])):
        topic = rng.choices(topics, weights)[0]
        company = rng.choice(companies)
        ticket = tickets.create_ticket(
            session, topic=topic, description=_description(rng, topic, company),
            conversation_id=key, enterprise_id=company.id, contact_name=company.contact_name,
            contact_phone=company.contact_phone, act="consult" if rng.random() < 0.2 else "appeal",
            now=created,
        )
        _play(session, rng, ticket, now)
    session.flush()
    return SeedResult(departments=len(departments), enterprises=len(companies),
                      created=len(plans), skipped=count - len(plans))

