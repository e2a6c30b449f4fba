"""Questions about another jurisdiction's rules: 香港的利得税, 日本签证, 美国FDA注册.

The knowledge base holds the statutes of the People's Republic and Guangdong's service
items. A question asking about the tax, visa, registration or certification *of* another
jurisdiction (Hong Kong, Macao, Taiwan, a foreign country or bloc) shares ordinary words
with them (税率, 签证, 注册, 发票) but is not answered by them.

A place counts only as the jurisdiction whose rules are asked about: not as a party
(香港老板, 新加坡的合伙人, 德国工程师), not as where one travels or ships to (去香港开会,
出口欧盟的产品, 汇回香港), and not when the entry itself names the place (an item for
Hong Kong lawyers answers them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Jurisdictions outside the mainland whose own rules the corpus does not hold.
PLACES = (
    "香港 澳门 台湾 美国 日本 韩国 越南 泰国 新加坡 马来西亚 印尼 印度 欧盟 英国 德国 法国 "
    "俄罗斯 澳大利亚 加拿大 迪拜 中东 东南亚 欧洲 非洲"
).split()
#: Words after a place that make it a party (香港老板) rather than a jurisdiction.
_PARTY = (
    "人|籍|同胞|居民|公司(?!法)|企业(?!所得税)|客户|老板|总部|员工|工程师|专家|合伙人|股东|投资者|投资|资本|"
    "子公司|分公司|母公司|机构|律所|律师|朋友|商人|客商|买家|卖家|供应商|法人|合作方|对方"
)
#: Words before a place that make it a destination (去香港, 出口欧盟, 汇回香港).
_TOWARDS = "去|到|回|往|来|自|从|出口|进口|寄到|发往|汇往|卖到|运到"
_ELSEWHERE_RE = re.compile(rf"(?P<place>{'|'.join(PLACES)})(?>(那边|那里|当地)?的?)(?!{_PARTY})")
_TOWARDS_RE = re.compile(rf"({_TOWARDS})$")


def elsewhere(text: str, spans: Sequence[tuple[int, int]], hay: str) -> tuple[str, ...]:
    """Places in ``text`` (within the clauses ``spans``) named as the jurisdiction whose
    rules are asked about, that the entry's text ``hay`` does not name."""
    found: list[str] = []
    for a, b in spans:
        for m in _ELSEWHERE_RE.finditer(text, a, b):
            place = m.group("place")
            if _TOWARDS_RE.search(text, a, m.start()) or place in hay:
                continue
            found.append(place)
    return tuple(dict.fromkeys(found))
