"""Per-mail-system bounce detectors and receiving-provider reply tables, in order of trust."""

from __future__ import annotations

from typing import Final

from worker.bounces.mta import (
    amazon,
    appliances,
    cjk,
    dragonfly,
    exchange,
    exim,
    google,
    groupwise,
    japan,
    lists,
    notes,
    opensmtpd,
    phquery,
    postfix,
    providers,
    qmail,
    sendmail,
    verizon,
    xseries,
    yahoo,
    zoho,
)
from worker.bounces.mta.base import Family, Host

#: Tried in this order; the first family that claims a message and finds a recipient wins.
#: Specific layouts come before the general ones they resemble (qmail's Yahoo! variant before
#: Yahoo's own; X-series before sendmail, whose wording some of them borrow).
FAMILIES: Final[tuple[Family, ...]] = (
    amazon.RECEIVING,
    amazon.FAMILY,
    dragonfly.FAMILY,
    opensmtpd.FAMILY,
    verizon.FAMILY,
    lists.FML,
    lists.JAMES,
    japan.FAMILY,
    notes.FAMILY,
    appliances.IMAIL,
    appliances.MCAFEE,
    phquery.FAMILY,
    exchange.FAMILY,
    google.FAMILY,
    yahoo.FAMILY,
    zoho.FAMILY,
    qmail.FAMILY,
    exim.FAMILY,
    postfix.FAMILY,
    xseries.FAMILY,
    sendmail.FAMILY,
    groupwise.FAMILY,
    cjk.FAMILY,
)
#: Receiving providers whose documented reply wordings outrank every generic table.
HOSTS: Final[tuple[Host, ...]] = (
    google.HOST,
    exchange.HOST,
    yahoo.HOST,
    japan.KDDI,
    japan.DOCOMO,
    *providers.HOSTS,
)
BY_NAME: Final[dict[str, Family]] = {family.name: family for family in FAMILIES}
