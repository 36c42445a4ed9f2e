"""What receiving mail servers actually say, as regular expressions per bounce reason."""

from __future__ import annotations

from typing import Final

# Each entry is written against *normalized* text: lowercased, whitespace collapsed to one
# space, and the "550-5.1.1 " continuation prefixes that multi-line SMTP replies repeat on every
# line removed (Gmail folds one sentence over four "550-5.1.1" lines, which would otherwise cut
# every phrase in half).  Keys are Reason values, kept as strings so this module stays plain data
# that reasons.py imports without a cycle.  The order of PHRASES is the order of evaluation and
# it matters: specific before general, e.g. "blocked using zen.spamhaus.org" must be `blocked`
# before the word "spam" can make it `spamdetected`, and SPF/DKIM/DMARC wording must win over
# the generic "rejected" that usually surrounds it.
PHRASES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    # A local delivery program failed: whatever it printed ("procmail: ... No such user")
    # is the program's complaint, not the receiving server's verdict on the address.
    ("mailererror", (
        r"^procmail:|\bprocmail: ", r"command died with status", r"x-unix;", r"mailer error",
        r"local delivery (?:program|agent) failed",
    )),
    # Refusals of our IP whose wording names spam or authentication: before the content and
    # authentication tables would take them ("client host rejected: was not authenticated"
    # is Microsoft's answer to an IP it does not know).
    ("blocked", (
        r"client host rejected: was not authenticated", r"currently sending spam",
        r"dynamic/zombied/spam ips", r"too many spams? from your ip",
        r"too many unwanted messages have been sent from",
    )),
    ("spamdetected", (r"considered as spam or virus", r"blocked by spamassassin",
                      r"no spam please")),
    ("virusdetected", (
        r"\bvirus(es)?\b", r"\bmalware\b", r"infected", r"\btrojan\b", r"\bworm\b",
        r"dangerous (attachment|content)", r"potentially (harmful|malicious)",
    )),
    # Our message breaks RFC 5322 (Gmail and others name the rule they enforce).
    ("notcompliantrfc", (
        r"not rfc ?5322 compliant", r"rfc ?5322 (?:section|requirement)",
        r"multiple (?:from|sender|subject|date|to|message-id) headers",
        r"duplicate (?:from|subject|date|message-id) header", r"does not comply with rfc ?5322",
    )),
    # Reverse DNS of our sending IP: before authentication and blocklists, whose wording
    # ("client host rejected", "dns") these refusals share.
    ("requireptr", (
        r"reverse dns", r"\bptr record", r"\brdns\b", r"cannot find your hostname",
        r"cannot resolve your (?:address|hostname)", r"ip name lookup failed",
        r"no ptr record", r"bad dns ptr resource record", r"hosts? with(?:out)? (?:a )?(?:valid )?"
        r"reverse", r"generic dns ptr", r"unresolvable relay host name",
        r"domain \S+ mismatches client ip", r"reverse lookup (?:failed|rejected)",
        r"does not have a ptr",
    )),
    ("authfailure", (
        r"\bspf\b", r"sender policy framework", r"\bdkim\b", r"\bdmarc\b",
        r"unauthenticated", r"not authenticated",
        r"authentication (information|check|result)", r"authenticate with (either )?spf",
        r"is not allowed to send (mail )?from", r"null mx.*sender", r"sender domain .*null mx",
        r"domainkeys", r"\barc validation",
    )),
    ("suppressed", (
        r"suppression list", r"has suppressed sending", r"recipient address is suppressed",
    )),
    ("norelaying", (
        r"relay(ing)? (access )?(denied|not permitted|not allowed|prohibited)",
        r"unable to relay", r"we do not relay", r"not permitted to relay",
        r"relay not (allowed|permitted)", r"relaying denied", r"no relaying",
        r"isn'?t in my list of allowed rcpthosts", r"not a gateway", r"relay(ing)? (is )?refused",
        r"not (?:an )?open relay", r"relay ?access",
    )),
    ("mesgtoobig", (
        r"message (is )?too (large|big)", r"message size exceeds", r"(?<!mailbox )size limit",
        r"exceeds (the )?(maximum|fixed maximum) (message )?size(?! allowed for mail delivery)",
        r"message (length|size) exceeds",
        r"mail too large", r"message file too big", r"too much (mail )?data",
        r"maximum (allowed )?message size", r"message size (?:is )?(?:over|above|larger)",
    )),
    ("mailboxfull", (
        r"mailbox (is )?full", r"mail ?box full", r"over (the )?(disk )?quota",
        r"quota (exceeded|violation|full)", r"exceed(ed|s|ing)? (the |its |their )?"
        r"(storage|disk|mailbox)? ?(quota|storage allocation|space)", r"insufficient (disk )?space",
        r"not enough (storage )?space", r"mailbox would exceed", r"mailfolder is full",
        r"user's space has been used up", r"inbox is (?:full|out of storage)",
        r"storage (limit|quota)",
        r"out of storage space", r"mailbox (?:size )?limit exceeded", r"too many messages in",
        r"mailbox (?:has )?exceeded", r"信箱已滿", r"邮箱已满", r"空間不足",
        r"does not have enough space", r"full mailbox", r"quota usage exceeded",
        r"mail file size exceeds the maximum size allowed", r"over the allowed quota",
        r"reached (?:its |the |their )?disk quota", r"too many messages on the server",
    )),
    ("hasmoved", (
        r"has moved", r"user not local; please try", r"no longer (at|with) this (address|domain)",
        r"address (has )?changed", r"mailbox owner has changed", r"forwarding address",
        r"no longer on server",
    )),
    ("suspend", (
        r"account (has been |is )?(disabled|deactivated|suspended|locked|inactive|frozen|blocked)",
        r"(mailbox|user|account) (is )?(currently )?(suspended|disabled|inactive|frozen|blocked)",
        r"has been (suspended|disabled|deactivated)", r"temporar(il)?y (locked|inactive)",
        r"tried to reach is (disabled|inactive)", r"invalid/inactive user", r"deactivated mailbox",
        r"mailbox (?:is )?(?:not active|unavailable for this user)", r"user (?:is )?not active",
        r"帳號已停用", r"帐号已停用", r"recipient suspend(?:ed)? the service",
    )),
    # Policies that name a sender or an attachment, before the sender and filter tables.
    ("policyviolation", (
        r"rejected for policy reasons", r"not accepting mail with (?:attachments|embedded images)",
        r"header are not accepted",
    )),
    # Refusals of OUR envelope sender come before the recipient tables: Postfix's "Sender address
    # rejected: Domain not found" names a domain that is ours, not the customer's.
    ("rejected", (
        r"sender address rejected", r"sender (verify|verification) failed",
        r"(mail from|envelope sender|return.path|sender domain)\b.{0,40}"
        r"(rejected|invalid|denied|not allowed|unroutable)", r"sender (?:is )?spammer",
        r"domain of sender address", r"sender (is )?(rejected|denied|not allowed|blacklisted)",
        r"\bsender rejected", r"not a registered gateway user", r"batv",
        r"sender not pre-?approved", r"null sender is not allowed", r"bogus mail from",
        r"unroutable sender", r"not a member of (?:this|the) (?:mailing )?list",
        r"you are not (?:a )?(?:member|subscribed)", r"banned sender",
        r"sending (?:to/)?from an address that (?:has been|is) (?:black|block|deny) ?listed",
        r"badsendermx", r"sendernoa", r"backscatter protection",
        r"can'?t determine purported responsible address", r"without a valid sender domain",
        r"from: domain is invalid", r"fully qualified email address required",
        r"outgoing mail suspension", r"invalid sender", r"emetteur invalide",
        r"mail from not owned by user", r"mail ?from domain is listed",
        r"returned mail not accepted here", r"sender domain is empty",
        r"server does not accept mail from", r"too many spam complaints",
        r"your (?:e-?mail )?address has been (?:black|block)listed", r"is a dead domain",
        r"empty envelope senders? not allowed",
    )),
    # Blocklists of the links inside a message judge its content, not our IP.
    ("spamdetected", (
        r"blacklisted (?:url|uri|link|domain) in (?:the )?message", r"\buribl\b", r"\bsurbl\b",
    )),
    ("blocked", (
        r"spamhaus", r"spamcop", r"barracuda(central)?", r"sorbs", r"\bsurbl\b", r"\buribl\b",
        r"blocked using", r"listed (at|in|on|by) ", r"\b(dns)?rbl\b", r"\bdnsbl\b",
        r"black ?list(ed)?", r"block ?list(ed)?", r"deny ?list(ed)?",
        r"client host .* (blocked|rejected)", r"\bip( address)? .*(is )?(blocked|banned)",
        r"(connection|access) (refused|denied) .*\bip\b", r"your (ip|network) .*(blocked|banned)",
        r"dynamic ip", r"\bs3150\b",  # S3150: Outlook.com's blocklist code
        r"not currently accepting mail from your ip", r"go away", r"banned sending ip",
        r"use the smtp server of your isp", r"please use your isp'?s? (?:smtp|mail) server",
        r"rejecting open proxy", r"remotehost looks suspiciously like spammer",
        r"access denied\. ip", r"no access from mail server", r"confirm this mail server",
        r"ip .*(?:not allowed|refused)", r"host network not allowed",
        r"^blocked(?: - see|\b)", r"bad sender ip address", r"sender ip address rejected",
        r"client host rejected: may not be mail exchanger", r"extreme bad ip profile",
        r"invalid ip for sending mail", r"server access forbidden by your ip",
        r"you are not allowed to connect", r"mail server at \S+ is blocked",
        r"server ip \S+ listed as abusive", r"not accepting connections",
        r"helo command rejected", r"your server requires "
        r"confirmation", r"temporarily deferred due to user complaints",
    )),
    ("badreputation", (
        r"\breputation\b", r"sender score", r"poor (email )?reputation",
    )),
    # The domain exists but publishes that it takes no mail (RFC 7505 null MX) or no mail
    # host at all: before hostunknown, whose "no mx" wording these share.
    ("notaccept", (
        r"indicated no smtp service", r"no mx (?:record )?found", r"null mx",
        r"couldn'?t find a mail exchanger or ip address", r"domain does not accept mail",
    )),
    ("hostunknown", (
        r"host (or domain name )?not found(?!, try again)", r"host unknown", r"unknown host",
        r"name service error(?!.*try again)", r"domain (does not|doesn't) exist", r"no such domain",
        r"unrouteable address", r"unknown domain", r"domain (name )?not found",
        r"domain must exist", r"\bnxdomain\b", r"no mx (record|host)",
        r"mail domain mentioned in e-?mail address is unknown",
        r"name or service not known", r"domain is not reachable", r"host or domain name not",
        r"recipient domain (?:does not|doesn't) exist", r"unresolvable (?:domain|host)",
        r"mx records? (?:for|of) .* (?:not found|missing)",
        r"(?<![\w.@-])[a-z0-9-]+(?:\.[a-z0-9-]+)+ does not exist",
    )),
    ("userunknown", (
        r"user ?unknown",
        r"unknown (user|recipient|mailbox|local[ -]?part|e-?mail address|address)",
        r"no such (user|recipient|mailbox|person|address|account)",
        r"(user|recipient|mailbox|account|address) (does not|doesn't|not) exist",
        r"(user|recipient|mailbox|address|account) not found", r"recipnotfound",
        r"recipientnotfound", r"resolver\.adr\.recip", r"account that you tried to reach does "
        r"not exist", r"mailbox (is )?unavailable", r"invalid (recipient|mailbox|address|user)",
        r"not a valid (recipient|user|mailbox)", r"(is )?not a known user",
        r"no mailbox (here )?(by that name|found)", r"doesn't have an? .* account",
        r"recipient (address )?rejected: (user unknown|unknown user|invalid|access denied)",
        r"bad (destination )?(recipient|mailbox|address)",
        r"nosuchuser", r"unknown or illegal alias", r"no one at this address",
        r"no valid recipients", r"address (?:unknown|invalid|does not exist)",
        r"recipient (?:is )?not (?:local|accepted)", r"mailbox not present",
        r"user (?:\S+ )?(?:was )?not (?:found|listed)", r"not listed in",
        r"destination addresses were unknown", r"badrcptto|validrcptto",
        r"utilisateur inconnu", r"nessun utente", r"no existe (?:dicha persona|ese usuario)",
        r"recipient refuses to accept your mail",
        r"address not present in directory", r"can'?t accept user",
        r"e-?mail address could not be found", r"is not an active address at this host",
        r"mailbox invalid", r"no account by that name", r"no mail ?box available for this user",
        r"not a local address", r"recipient (?:not ok|unknown)",
        r"envelope recipient has been denied", r"e-?mail name is not found",
        r"address is wrong or no longer valid", r"badrecipientto", r"user not known",
        r"user missing home directory", r"invalid or unknown virtual user",
        r"<[^<>\s]+@[^<>\s]+> not found", r"\bdoes not exist at the organization",
        r"mailbox \S+ does not exist", r"no \S+ in name directory", r"non-?existent user",
        r"rcpt <[^<>\s]+> does not exist", r"recipient \S+ was not found in",
        r"destination server rejected recipients",
        r"收件者不存在", r"收件人不存在", r"信箱不存在", r"用户不存在", r"使用者不存在",
        r"帳號不存在", r"账号不存在", r"無此使用者",
    )),
    ("spamdetected", (
        r"\bspam\b", r"\bube\b", r"\buce\b", r"unsolicited", r"bulk (e-?)?mail",
        r"junk mail", r"content (filter )?rejected", r"message content rejected",
        r"looks like spam", r"spam(assassin)? score", r"垃圾郵件", r"垃圾邮件",
        r"mail rejected by .*filter", r"classified as (?:spam|junk)", r"scored too high",
        r"blocked by spamassassin", r"content filter rejection", r"mail content denied",
        r"unacceptable content", r"reject bulk\.advertising", r"banned content", r"\bspamming\b",
        r"antispam checks", r"spam-like",
    )),
    ("speeding", (
        r"try again slower", r"sending too fast", r"slow down",
    )),
    ("toomanyconn", (
        r"connection rate limit", r"connection limit", r"per-domain connection limit",
    )),
    ("ratelimited", (
        r"rate limit(?:ed|ing)?", r"throttl",
        r"max(?:imum)? (?:e-?mails|messages) per (?:hour|day)",
        r"too many messages (?:from|in this connection|per)",
    )),
    ("toomanyconn", (
        r"too many (connections|concurrent|smtp sessions|errors|simultaneous)",
        r"connection rate", r"try again later.*(volume|rate)", r"frequency limit",
        r"unusual rate", r"sending rate", r"temporarily deferred due to", r"\bts[s]?0\d\b",
        r"connection limit", r"trop de connexions",
    )),
    ("exceedlimit", (
        r"too many recipients", r"recipient limit", r"receiving mail at a rate",
        r"exceeded (the )?(daily|hourly|message) (limit|quota)", r"limit exceeded",
    )),
    ("expired", (
        r"delivery time expired", r"message expired", r"expired after",
        r"too long in (the )?queue", r"in the queue too long", r"giving up", r"gave up",
        r"retry time(out)? (not reached|exceeded)", r"could not be delivered within",
        r"queue period", r"message timed out", r"envelope expired", r"queue\.expired",
        r"has not been delivered for", r"could not be delivered for \d+", r"delivery expired",
        r"maximum (?:queue|delivery) (?:time|lifetime)", r"retry (?:limit|period) exceeded",
        r"cannot send message for \d+ (?:days?|hours?)",
    )),
    ("networkerror", (
        r"connection timed out", r"timed out", r"connection refused", r"no route to host",
        r"host (is )?unreachable", r"network (is )?unreachable", r"host not found, try again",
        r"temporary (dns|lookup) failure", r"dns (lookup )?(failure|error)", r"servfail",
        r"lost connection", r"connection (reset|dropped|closed)", r"mail (forwarding )?loop",
        r"too many hops", r"routing loop", r"could not connect", r"loops? back to myself",
        r"hop count exceeded", r"loop detected", r"network error",
        r"dns records for the destination computer could not be found",
        r"host name lookup failure", r"malformed (?:or unexpected )?name server reply",
        r"forwarding loop count exceeded", r"message looping", r"unable to resolve route",
        r"unrouteable mail domain",
    )),
    ("policyviolation", (
        r"polic(y|ies)", r"not accepted for policy reasons", r"prohibited",
        r"organization(al)? (settings|policy)", r"header error", r"protocol violation",
        r"members-only list", r"illegal attachment", r"mass mailer", r"closed mailing list",
        r"messages with multiple addresses", r"low priority",
    )),
    ("filtered", (
        r"filtered", r"recipient (has )?blocked", r"blocked by (the )?recipient",
        r"not accepting (any )?mail", r"refused due to recipient preferences",
        r"resolver\.rst\.", r"only accepting mail from", r"recipient (preferences|filter)",
        r"user reject", r"refuse to receive mail", r"this account is protected by",
        r"you have been blocked by the recipient", r"bounced address",
        r"account is protected by", r"has restricted sms e-?mail", r"rejected due to user rules",
        r"not found recipient account", r"refuses? to receive (?:this )?mail",
    )),
    ("securityerror", (
        r"\btls\b", r"starttls", r"encryption (?:required|needed)", r"must issue a starttls",
        r"certificate", r"authentication required", r"must (?:first )?authenticate",
        r"authentication (?:credentials|mechanism)", r"\bauth(?:entication)? failed",
    )),
    ("contenterror", (
        r"header (is )?(invalid|malformed|too long)", r"invalid (header|mime|message)",
        r"malformed", r"8-?bit", r"charset", r"encoding", r"line too long", r"lines too long",
    )),
    ("syntaxerror", (
        r"syntax error", r"command unrecognized", r"bad sequence of commands",
        r"command not implemented", r"parameter", r"unrecognized command",
    )),
    ("systemfull", (
        r"mail system full", r"insufficient system storage", r"system storage",
    )),
    ("mailererror", (
        r"x-unix;", r"command died", r"mailer error", r"procmail", r"pipe to",
        r"local delivery (?:program|agent) failed",
    )),
    ("systemerror", (
        r"system (error|failure|config)", r"internal (server )?error", r"local error",
        r"server (is )?(busy|unavailable|error)", r"temporar(il)?y (unavailable|failure)",
        r"resources? (temporarily )?unavailable",
        r"service (not available|unavailable)", r"i/o error", r"disk full",
        r"remote server (?:is )?misconfigured", r"misconfigur",
        r"forwarding loop broken", r"can'?t create user output file", r"could not load drd",
        r"interrupted system call", r"encountered an error while being processed",
        r"(?:local|server|mail system) configuration error", r"queue file write error",
        r"there is no mdb", r"service currently unavailable", r"temporary local problem",
        r"timeout waiting for input", r"unable to connect to the daemon",
    )),
    ("notaccept", (
        r"(host|domain) does not accept (any )?mail", r"not accepting (network )?messages",
        r"does not accept (?:any )?mail(?! from)",
    )),
)

# Words every refusal uses ("Recipient address rejected: <the real reason>", "Access
# denied"): they name a reason only when nothing more specific does, and never outweigh a
# precise status code (a 5.6.0 that says "rejected" is still a content error).
WEAK_PHRASES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("rejected", (
        r"administrative prohibition", r"access denied",
        r"delivery not authorized", r"\brejected\b", r"\brefused\b", r"not allowed",
    )),
)
