"""Registered company names (企业名称) as people type them: exact rules, no learning.

A registered name keeps its place prefix (深圳市南山区…, 东莞市长安镇…) and ends in an
organisational form (有限公司, 股份有限公司, 厂, 合作社 …). Pure Python: the Rasa pipeline
(Python 3.10, ``nlu/components/entities.py``) and the form validation share it.
"""

from __future__ import annotations

import re

SUFFIXES = (
    "股份有限公司", "有限责任公司", "有限公司", "分公司", "总公司", "公司", "集团", "厂",
    "合作社", "商行", "经营部", "门市部", "事务所", "工作室", "中心", "店", "超市", "酒店",
    "餐厅", "饭店", "诊所", "药房", "商店", "批发部", "农场", "养殖场", "研究院", "研究所",
)
_SUFFIX = "|".join(SUFFIXES)
_NAME_CHARS = r"[\u4e00-\u9fffA-Za-z0-9（）()·&]"
COMPANY_IN_TEXT = re.compile(
    rf"(?:^|(?<=[，,。：:；;、\s“\"「是为叫系向给和与跟对被在])|(?<=我们是))"
    rf"(?!我|本|贵|该|这|那|一家|某家)(?P<name>{_NAME_CHARS}{{2,48}}?(?:{_SUFFIX})"
    r"(?:（[^（）]{1,10}）|\([^()]{1,10}\))?)"
    r"(?=$|[^\u4e00-\u9fffA-Za-z0-9]|的|在|于|因|是|和|与|向|从|自|已|被|，)"
)
_LEAD = re.compile(
    r"^(?:(?:我们|我|本)(?:的)?(?:公司|企业|单位|厂)?(?:的)?(?:名称|名字|全称)?(?:是|叫|为)|"
    r"(?:公司|企业|单位)?(?:名称|名字|全称)(?:是|叫|为)?[:：]?|叫)\s*"
)


def registered_name(answer: str) -> str:
    """The company name in a form answer: lead-in words (我们是 / 公司名称：) dropped, the
    registered name kept whole when the answer contains one."""
    text = _LEAD.sub("", answer.strip(" 。，,.!！")).strip()
    match = COMPANY_IN_TEXT.search(text)
    if match and len(match.group("name")) >= len(text) * 0.6:
        return match.group("name")
    return text
