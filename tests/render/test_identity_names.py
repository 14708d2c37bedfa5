"""Name keys on real model names: version and edition words leave the key, character names stay whole.

Both sides matter: a release left with its own key splits one character into two identity
groups (and maybe into train and test), a name cut too far merges two characters.
"""

from __future__ import annotations

import pytest

from thagen.render.identity.names import name_key

# (release names of one character, the key they all fold to)
COLLAPSE = [
    (["鏡音リン", "鏡音リンact2", "鏡音リン Act.2", "鏡音リン_act 3"], "鏡音リン"),
    (["Alice", "Alice_ver2.0", "AliceVer2", "Alice v1.3", "Alice Ver.2.0", "alice ver.1.02"], "alice"),
    (["Alice2.0", "Alice_v2", "ALICE_V2", "Alice rev3", "Alice_final", "Alice (latest)"], "alice"),
    (["Bob", "Bob_perfectsync", "Bob perfect sync", "Bob-Perfect-Sync", "BobPerfectSync"], "bob"),
    (["Bob_PS", "BobPS", "Bob PS", "Bob_ARKit", "Bob ARKit対応", "ｂｏｂ　ＰＳ"], "bob"),
    (["ミク", "ミク_BDEF", "ミクSDEF", "ミク_QDEF", "ミク light", "ミク_lite"], "ミク"),
    (
        ["初音ミク", "初音ミク改", "初音ミク改変", "初音ミク修正版", "初音ミク最新版", "初音ミク軽量版"],
        "初音ミク",
    ),
    (
        ["初音ミク", "初音ミクv2", "初音ミク2.0", "初音ミク V4X", "初音ミクPS対応", "初音ミク 表情追加版"],
        "初音ミク",
    ),
    (["初音ミク", "初音ミク パーフェクトシンク対応版", "初音ミク_ver1.0β", "初音ミク2"], "初音ミク"),
    (["夕立", "夕立改", "夕立改二"], "夕立"),
    (["MIKU", "ＭＩＫＵ　ｖｅｒ２", "miku_1_2", "Miku2", "Miku_v2_swimsuit"], "miku"),
    (["Lily", "Lily_v2", "Lily ver1.1", "LilyPS"], "lily"),
    (["Levi", "Levi2", "Levi_v1.3"], "levi"),
    (["Oliver", "Oliver2", "OliverV2", "Oliver ver3"], "oliver"),
    (["2B", "2B_ver1.1", "2B v2", "2B_perfectsync"], "2b"),
    (["9S", "9S v2", "9S_PS"], "9s"),
    (["C.C.", "C.C._PS", "C.C. ver2.0"], "cc"),
    (["A2", "A2_ver2", "A2 SDEF"], "a2"),
    (["R2-D2", "R2-D2 v1.1"], "r2d2"),
]

# names that must keep every part: no edition word is cut from inside a word or name
STAY = [
    ("Lily", "lily"),  # not "li" + "ly"
    ("Levi", "levi"),  # "v" without a number is a letter of the name
    ("Vivi", "vivi"),
    ("Oliver2", "oliver"),  # "ver2" inside a word is not a version
    ("Verona", "verona"),
    ("Actaeon", "actaeon"),  # "act" without a number
    ("Psyche", "psyche"),  # "ps" inside a word
    ("Lightning", "lightning"),
    ("Perfect", "perfect"),
    ("Sync", "sync"),
    ("McDonald", "mcdonald"),  # a case change glues unless an edition word follows
    ("2B", "2b"),
    ("9S", "9s"),
    ("C.C.", "cc"),
    ("A2", "a2"),  # a number after one letter is the name's
    ("K9", "k9"),
    ("ミク", "ミク"),
    ("鏡音リン・レン", "鏡音リンレン"),  # two characters: not "鏡音リン"
    ("改", ""),  # nothing left: no key
    ("島風改", "島風"),
]

# names that look alike but are different characters: their keys differ
APART = [
    ("Oli", "Oliver2"),
    ("Lev", "Levi2"),
    ("2B", "9S"),
    ("A2", "A3"),
    ("鏡音リン", "鏡音リン・レン"),
    ("Li", "Lily"),
]


@pytest.mark.parametrize(("names", "key"), COLLAPSE, ids=[k for _, k in COLLAPSE])
def test_releases_of_one_character_fold_to_one_key(names: list[str], key: str) -> None:
    assert {n: name_key(n) for n in names} == {n: key for n in names}


@pytest.mark.parametrize(("name", "key"), STAY, ids=[n for n, _ in STAY])
def test_character_names_are_never_cut(name: str, key: str) -> None:
    assert name_key(name) == key


@pytest.mark.parametrize(("a", "b"), APART)
def test_different_characters_keep_different_keys(a: str, b: str) -> None:
    assert name_key(a) != name_key(b)


def test_only_edition_words_are_split_off_at_a_case_change() -> None:
    # "SailorMoon" would lose "sailor" (an outfit word) if every case change were a word break
    assert name_key("SailorMoon") == "sailormoon"
    assert name_key("MikuVer2") == name_key("MikuPS") == name_key("MikuARKit") == "miku"
    assert name_key("BobPerfect_Sync") == name_key("BobPerfect-Sync") == "bob"
