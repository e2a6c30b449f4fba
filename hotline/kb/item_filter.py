"""Which service items are services at all.

The Guangdong catalogue lists, as 公共服务, pages that nobody applies for: exhibitions
(查询…展), library and museum events, performances, sports fixtures, news reports
("…在广东省立中山图书馆举行") and notices. An enterprise asking about a permit must
never be answered with a museum exhibition, so these are dropped at ingestion.

The rule, applied to the item's name only (the fields of such pages are empty or
boilerplate):

1. Only items of type 公共服务 (or with no type) can be dropped: a 行政许可, 行政奖励 …
   is a legal power with an applicant, whatever its name says.
2. An item is dropped when its name reads as news (a reported event: 举办, 召开,
   荣获, 开幕 …) or as a cultural, sporting or publicity event (展览, 演出, 讲座,
   图书馆, 赛事, 宣传活动 …), or is a bare notice or news listing (…公告, 新闻, 动态), or
   publicity and general reading (图说…, 宣传视频…, …概况).
3. …unless the name also names something an enterprise transacts (招标, 采购, 许可,
   登记, 备案, 申请, 认定, 补贴 …): 水利建设招标公告查询 stays.

:func:`dropped_reason` returns why an item is dropped (for the build report and tests)
or None when it is kept.
"""

from __future__ import annotations

import re

NEWS_RE = re.compile(
    r"(举办|举行|召开|开幕|开班|结课|荣获|获得|被评为|被认定为|圆满|闪亮|座谈会|(?<!召)回信|强调|"
    r"称号|精彩不断|取得佳|启用仪式|联动举行|登场|呈献|携手|导赏)"
)
EVENT_RE = re.compile(
    r"(展览|展出|展厅|展馆|特展|精品展|作品展|文物展|文化展|艺术展|^查询.{2,40}展$|演出|"
    r"艺术节|讲座|大讲堂|分享会|沙龙|图书馆|阅读|读书|书目|书刊|馆藏|期刊|电视节目|"
    r"赛事|竞赛|比赛|大赛|体育节|全民健身|科普|宣传月|宣传活动|宣传教育|志愿活动|"
    r"活动回顾|活动预告|活动报名|活动查询|活动计划|主题活动|品牌活动|惠民演出|"
    r"成果展示|案例查询与展示|期刊展示|扫码计时|活动记录|美术馆|文化馆|博物馆|直播|推荐$)"
)
NOTICE_RE = re.compile(r"(公告$|新闻|动态$|通知动态|图片新闻|新闻报道|研究动态|通知查询$)")
#: Publicity and general reading: picture stories, promotional material, overviews, warnings
#: published for everyone (图说环保, 水利宣传视频查询及下载, 省主要河流概况, 网络与信息安全通报预警).
PUBLICITY_RE = re.compile(r"(图说|图解|漫画|宣传(图片|视频|资讯|作品|推广)|概况$|百科|通报预警)")
TRANSACTION_RE = re.compile(
    r"(招标|投标|中标|采购|许可|登记|备案|申请|申报|认定|审批|核准|补贴|资助|奖励|"
    r"证明|证书|资格|鉴定|检验|检测|缴|退税|融资|贷款)"
)
DROPPABLE_TYPES = frozenset({"公共服务", ""})


def dropped_reason(name: str, item_type: str | None) -> str | None:
    """Why the item named ``name`` is not a service (``"news"``, ``"event"``, ``"notice"``,
    ``"publicity"``), or None when it is one."""
    if (item_type or "") not in DROPPABLE_TYPES:
        return None
    name = name.strip()
    if TRANSACTION_RE.search(name):
        return None
    if NEWS_RE.search(name):
        return "news"
    if EVENT_RE.search(name):
        return "event"
    if NOTICE_RE.search(name):
        return "notice"
    if PUBLICITY_RE.search(name):
        return "publicity"
    return None
