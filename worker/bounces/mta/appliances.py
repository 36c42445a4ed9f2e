"""Mail servers and gateway appliances with terse notices: Ipswitch IMail, McAfee's gateway."""

from __future__ import annotations

import re
from typing import Final

from worker.bounces.mta.base import Family, Format, compile_phrases, format_detector, header_claim

# IMail (X-Mailer: <SMTP32 vN>, Subject "Undeliverable Mail") writes one line per recipient,
# the verdict first: "Unknown user: rcpt", "Invalid final delivery userid: rcpt" (its own
# directory found no such mailbox), "User mailbox exceeds allowed size: rcpt" (full),
# "Unknown host: rcpt" (no domain); a refusal by the next server reads "undeliverable to
# rcpt", then "Body of message generated response:" and the remote reply.  "Original
# message follows." ends the notice.
_IMAIL_VERDICT: Final = Format(
    recipient=re.compile(
        r"^\s*(?P<why>[A-Za-z][\w ,'/-]{2,80}):\s*<?(?P<addr>[^\s<>@]+@[^\s<>@]+?)>?\s*$"
    ),
    reason_first=True,
    end=re.compile(r"^\s*original message follows", re.I | re.M),
)
_IMAIL_RELAYED: Final = Format(
    recipient=re.compile(
        r"^\s*undeliverable to\s+<?(?P<addr>[^\s<>@]+@[^\s<>@]+?)>?(?P<why>\s.*)?$", re.I
    ),
    end=re.compile(r"^\s*original message follows", re.I | re.M),
)
IMAIL: Final = Family(
    "imail",
    header_claim(x_mailer=r"^\s*<SMTP32 v", subject=r"^\s*undeliverable mail\s*$"),
    format_detector(_IMAIL_VERDICT, _IMAIL_RELAYED),
    compile_phrases(
        (
            ("userunknown", (r"^unknown user\b", r"invalid final delivery userid")),
            ("mailboxfull", (r"user mailbox exceeds allowed size",)),
            ("hostunknown", (r"^unknown host\b",)),
            ("virusdetected", (r"virus detected",)),
        )
    ),
)

# McAfee's Email Gateway (X-NAI-Header: Modified by McAfee ..., Subject "Delivery Status")
# lists "<rcpt>   (reason)" under "--- The following addresses had delivery problems ---"
# and attaches a DSN.  Its reasons quote the remote reply or its own verdict: "User (rcpt)
# unknown.", "550 Unknown user rcpt", "550 <rcpt>... User not exist", "No such user": all
# a mailbox the receiving side does not have.
_MCAFEE: Final = Format(
    start=re.compile(r"-+\s*the following addresses had delivery problems\s*-+", re.I),
    recipient=re.compile(r"^\s*<(?P<addr>[^\s<>@]+@[^\s<>@]+)>\s+\((?P<why>.+)\)\s*$"),
)
MCAFEE: Final = Family(
    "mcafee",
    header_claim(x_nai_header=r"modified by mcafee"),
    format_detector(_MCAFEE),
    compile_phrases(
        (
            (
                "userunknown",
                (
                    r"\buser \(\S+@\S+\) unknown\b",
                    r"\b550 unknown user \S+@",
                    r"\b550 <\S+@\S+>\.+ user not exist",
                    r"\bno such user\b",
                ),
            ),
        )
    ),
)
