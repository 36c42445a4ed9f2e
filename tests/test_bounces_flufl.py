"""Agreement with flufl.bounce's published sample bounces (tests/data/bounces/flufl/).

The table is the facts its own test suite states for each sample: which recipients failed,
and whether flufl.bounce calls the failure permanent or temporary.  A sample counts as right
when every listed recipient is among our reports, with action "failed" for a permanent
failure and "delayed" for a temporary one."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest

from worker.bounces.parse import parse_bytes

FLUFL: Final = Path(__file__).resolve().parent / "data" / "bounces" / "flufl"
TARGET: Final = 0.99

P: Final = "permanent"
T: Final = "temporary"
#: file -> (recipients flufl.bounce expects, permanent or temporary).
EXPECTED: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    "aol_01.txt": (("screenname@aol.com",), P),
    "bounce_02.txt": (("userx@example.com",), P),
    "bounce_03.txt": (("userx@example.uk",), P),
    "caiwireless_01.txt": (("userx@example.com",), P),
    "dsn_01.txt": (("userx@example.com",), P),
    "dsn_02.txt": (("zzzzz@example.uk",), P),
    "dsn_03.txt": (("userx@example.be",), P),
    "dsn_04.txt": (("userx@example.ch",), P),
    "dsn_05.txt": (("userx@example.cz",), T),
    "dsn_06.txt": (("userx@example.com",), T),
    "dsn_07.txt": (("userx@example.nz",), T),
    "dsn_08.txt": (("userx@example.de",), T),
    "dsn_09.txt": (("userx@example.com",), P),
    "dsn_10.txt": (("anne.person@dom.ain",), P),
    "dsn_11.txt": (("joem@example.com",), P),
    "dsn_12.txt": (("userx@example.jp",), P),
    "dsn_13.txt": (("userx@example.com",), P),
    "dsn_14.txt": (("userx@example.com.dk",), P),
    "dsn_15.txt": (("userx@example.com",), P),
    "dsn_16.txt": (("userx@example.com",), P),
    "dsn_17.txt": (("userx@example.fi",), T),
    "dsn_18.txt": (("email@replaced.net",), P),
    "exim_01.txt": (("userx@its.example.nl",), P),
    "groupwise_01.txt": (("userx@example.edu",), P),
    "groupwise_02.txt": (("userx@example.com",), P),
    "hotpop_01.txt": (("userx@example.com",), P),
    "llnl_01.txt": (("user1@example.gov",), P),
    "microsoft_01.txt": (("userx@example.com",), P),
    "microsoft_02.txt": (("userx@example.com",), P),
    "microsoft_03.txt": (("userx@example.com",), P),
    "microsoft_04.txt": (("userx@example.com",), P),
    "netscape_01.txt": (("aaaaa@corel.com", "bbbbb@corel.com"), P),
    "newmailru_01.txt": (("zzzzz@newmail.ru",), P),
    "postfix_01.txt": (("xxxxx@local.ie",), P),
    "postfix_02.txt": (("yyyyy@digicool.com",), P),
    "postfix_03.txt": (("ttttt@ggggg.com",), P),
    "postfix_04.txt": (("userx@mail1.example.com",), P),
    "postfix_05.txt": (("userx@example.net",), P),
    "qmail_01.txt": (("userx@example.de",), P),
    "qmail_02.txt": (("userx@example.com",), P),
    "qmail_03.txt": (("userx@example.jp",), P),
    "qmail_04.txt": (("userx@example.au",), P),
    "qmail_05.txt": (("userx@example.com",), P),
    "qmail_06.txt": (("ntl@xxx.com",), P),
    "qmail_07.txt": (("user@example.net",), P),
    "sendmail_01.txt": (("zzzzz@shaft.coal.nl", "zzzzz@nfg.nl"), P),
    "simple_01.txt": (("bbbsss@example.com",), P),
    "simple_02.txt": (("userx@example.net",), P),
    "simple_03.txt": (("userx@example.za",), T),
    "simple_04.txt": (("userx@example.com",), P),
    "simple_05.txt": (("userx@example.net",), P),
    "simple_06.txt": (("userx@example.com",), P),
    "simple_07.txt": (("userx@example.net",), P),
    "simple_08.txt": (("userx@example.de",), P),
    "simple_09.txt": (("userx@example.de",), P),
    "simple_10.txt": (("userx@example.com",), P),
    "simple_11.txt": (("userx@example.com",), P),
    "simple_12.txt": (("userx@example.ac.jp",), P),
    "simple_13.txt": (("userx@example.fr",), P),
    "simple_14.txt": (("userx@example.com", "usery@example.com"), P),
    "simple_15.txt": (("userx@example.be",), P),
    "simple_16.txt": (("userx@example.com",), P),
    "simple_17.txt": (("userx@example.com",), P),
    "simple_18.txt": (("userx@example.com",), P),
    "simple_19.txt": (("userx@example.com.ar",), P),
    "simple_20.txt": (("userx@example.com",), P),
    "simple_21.txt": (("userx@example.com",), T),
    "simple_22.txt": (("user@example.org",), T),
    "simple_23.txt": (("userx@example.it",), P),
    "simple_24.txt": (("userx@example.com",), P),
    "simple_25.txt": (("userx@example.com",), P),
    "simple_26.txt": (("userx@example.it",), P),
    "simple_27.txt": (("userx@example.net.py",), P),
    "simple_28.txt": (("userx@example.com",), T),
    "simple_29.txt": (("userx@example.com",), P),
    "simple_30.txt": (("userx@example.com",), P),
    "simple_31.txt": (("userx@example.fr",), P),
    "simple_32.txt": (("userx@example.com",), P),
    "simple_33.txt": (("userx@example.com",), P),
    "simple_34.txt": (("roland@example.com",), P),
    "simple_35.txt": (("calvin@example.com",), T),
    "simple_36.txt": (("userx@example.com",), P),
    "simple_37.txt": (("user@example.edu",), P),
    "simple_38.txt": (("userx@example.com",), P),
    "simple_39.txt": (("userx@example.ru",), P),
    "simple_40.txt": (("user@example.com",), T),
    "simple_41.txt": (("userx@example.com",), P),
    "simple_44.txt": (("user@example.com",), P),
    "simple_45.txt": (("subscriber@earthlink.net",), P),
    "sina_01.txt": (("userx@sina.com", "usery@sina.com"), P),
    "smtp32_01.txt": (("userx@example.ph",), P),
    "smtp32_02.txt": (("userx@example.com",), P),
    "smtp32_03.txt": (("userx@example.com",), P),
    "smtp32_04.txt": (("after_another@example.net", "one_bad_address@example.net"), P),
    "smtp32_05.txt": (("userx@example.com",), P),
    "smtp32_06.txt": (("absolute_garbage_addr@example.net",), P),
    "smtp32_07.txt": (("userx@example.com",), P),
    "yahoo_01.txt": (("userx@example.com",), P),
    "yahoo_02.txt": (("userx@example.es",), P),
    "yahoo_03.txt": (("userx@example.com",), P),
    "yahoo_04.txt": (("userx@example.es", "usery@example.uk"), P),
    "yahoo_05.txt": (("userx@example.com", "usery@example.com"), P),
    "yahoo_06.txt": (
        ("userx@example.com", "usery@example.com", "userz@example.com", "usera@example.com"),
        P,
    ),
    "yahoo_07.txt": (
        ("userw@example.com", "userx@example.com", "usery@example.com", "userz@example.com"),
        P,
    ),
    "yahoo_08.txt": (
        (
            "usera@example.com",
            "userb@example.com",
            "userc@example.com",
            "userd@example.com",
            "usere@example.com",
            "userf@example.com",
        ),
        P,
    ),
    "yahoo_09.txt": (("userx@example.com", "usery@example.com"), P),
    "yahoo_10.txt": (("userx@example.com", "usery@example.com", "userz@example.com"), P),
    "yahoo_11.txt": (("bad_user@aol.com",), P),
    "yahoo_12.txt": (("user@yahoo.com",), P),
    "yahoo_13.txt": (("bogus-address@example.net",), P),
    "yale_01.txt": (("userx@cs.yale.edu", "userx@yale.edu"), P),
}
#: Samples flufl.bounce finds no recipient in (not bounces, or nothing to find).
NO_RECIPIENT: Final = frozenset(
    {"dumbass_01.txt", "groupwise_03.txt", "qmail_08.txt", "simple_42.txt", "simple_43.txt"}
)
_ACTION: Final = {P: "failed", T: "delayed"}


def misses(name: str) -> list[str]:
    """What we get wrong on one sample: each expected recipient missing or mis-actioned."""
    recipients, kind = EXPECTED[name]
    reports = {r.recipient: r for r in parse_bytes((FLUFL / name).read_bytes()).reports}
    out: list[str] = []
    for addr in recipients:
        got = reports.get(addr)
        if got is None:
            out.append(f"{name}: {addr} not found (got {sorted(reports)})")
        elif got.action != _ACTION[kind]:
            out.append(f"{name}: {addr} {got.action}, flufl says {kind}")
    return out


#: Shipped with the samples, but its test suite states nothing about it.
UNSTATED: Final = frozenset({"bounce_01.txt"})


def test_flufl_table_covers_every_sample() -> None:
    samples = {p.name for p in FLUFL.glob("*.txt")}
    assert samples == set(EXPECTED) | NO_RECIPIENT | UNSTATED


def test_flufl_samples_agreement(capsys: pytest.CaptureFixture[str]) -> None:
    wrong = {name: m for name in sorted(EXPECTED) if (m := misses(name))}
    right = len(EXPECTED) - len(wrong)
    share = right / len(EXPECTED)
    with capsys.disabled():
        print(f"\nflufl.bounce samples right: {right}/{len(EXPECTED)} ({share:.1%})")
        for lines in wrong.values():
            for line in lines:
                print("  " + line)
    assert share >= TARGET
