"""The shared text normalizer: what Rasa's pipeline and the app both rely on."""

from hotline.textnorm import in_script_of, is_traditional, normalize


def test_traditional_becomes_simplified() -> None:
    assert normalize("我們公司想申請銀行貸款") == "我们公司想申请银行贷款"


def test_html_entities_are_unescaped_even_twice() -> None:
    assert normalize("融资&#xff0c;贷款&amp;担保&nbsp;问题") == "融资，贷款&担保 问题"
    assert normalize("A&amp;amp;B") == "A&B"


def test_fullwidth_letters_and_digits_become_halfwidth() -> None:
    assert normalize("ＲＣＥＰ原产地证，电话１３８００１３８０００") == "RCEP原产地证，电话13800138000"


def test_whitespace_and_control_characters() -> None:
    assert normalize("  你好\u3000\u3000在吗\x00\x07 \n\t ") == "你好 在吗"
    assert normalize("") == "" and normalize(None) == ""


def test_idempotent() -> None:
    once = normalize("發票&amp;ＶＡＴ  問題")
    assert normalize(once) == once


def test_script_detection_and_reply_in_the_writers_script() -> None:
    assert is_traditional("請問營業執照怎麼辦")
    assert not is_traditional("请问营业执照怎么办")
    assert not is_traditional("VAT 123")
    assert in_script_of("请问您的企业名称", "貸款問題") == "請問您的企業名稱"
    assert in_script_of("请问您的企业名称", "贷款问题") == "请问您的企业名称"


def test_script_of_ignores_identifiers_and_shared_characters() -> None:
    from hotline.textnorm import script_of

    assert script_of("我們要反映問題") == "t"
    assert script_of("我们要反映问题") == "s"
    for identifier in ("13800138000", "91440300MA5FHX7K1T", "T20261122-0042", "OK", "", "👍",
                       "你好"):  # 你好 is written the same in both scripts
        assert script_of(identifier) is None, identifier
