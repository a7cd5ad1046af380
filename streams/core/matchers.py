"""Text rules: what a record's message means (event kinds), robust to how the log wrapped it.

Every message is looked at in two normal forms:

* ``spaced``: ``~`` (the SMS line-break marker) and every run of whitespace or line breaks become one
  space; names and numbers are captured from this form.
* ``squashed``: ``spaced`` lower-cased with *all* spaces removed. Rules test fixed phrases against it,
  so ``"MP.MSI exited with\\nreturn code: 1603"``, ``"mp.msi  EXITED with return code:1603"`` and a
  line wrapped in the middle of a word all match the same needle.

Rules are grouped in families (SiteComp, MP setup/MSI, MP Control, generic); the extractor picks the
families that apply to a record's format and component. Within a family the first matching rule wins.
Records the parser already split into fields (STATMSG, IIS W3C lines) are read by ``field_rules``.

Both product generations are recognised: the SMS 2003 texts of the seed document and the ConfigMgr
2007 .. current-branch texts published for the same milestones (SiteComp installing roles through
``rolesetup.exe``, MPSetup's ``Installing Pre Reqs`` / ``~RoleSetup().``, mp.msi's ``CustomAction X
returned actual error code N``, MP Control Manager's ``Call to HttpSendRequestSync ...``). A later-version
verification carries ``data={"form": "httpsendrequest", "port": ..., "text": ...}``: the rules judge its
failures with the causes of that generation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streams.core import kinds as K
from streams.core.servers import target_name

TEXT_LIMIT = 400
MP_COMPONENT = "SMS_MP_CONTROL_MANAGER"
SITECOMP_COMPONENT = "SMS_SITE_COMPONENT_MANAGER"


@dataclass(slots=True)
class Hit:
    """One meaning found in a record. ``server`` is a target named by the record itself, if any."""

    kind: str
    variant: str = ""
    server: str = ""
    mp: bool = False
    data: dict[str, Any] | None = None
    message: str = ""


def normalize(message: str) -> tuple[str, str]:
    """(spaced, squashed) forms of a message (see the module docstring)."""
    spaced = " ".join(message.replace("~", " ").split())
    return spaced, spaced.replace(" ", "").lower()


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# ----------------------------------------------------------------------------- server names
_ON_SERVER = re.compile(r"\b(?:on|to|of)\s+server\s+['\"]?([\w$-][\w.$-]*)", re.I)
_SYNC = re.compile(r"synchronizing\s*component\s*server\s+['\"]?([\w-][\w.-]*)", re.I)
_UNC = re.compile(r"\\\\([\w-][\w.-]*)\\")


def named_server(spaced: str) -> str:
    """A target named in words: ``on/to/of server X`` or ``Synchronizing component server X``."""
    match = _ON_SERVER.search(spaced) or _SYNC.search(spaced)
    return target_name(match.group(1)) if match else ""


def sync_server(spaced: str) -> str:
    match = _SYNC.search(spaced)
    return target_name(match.group(1)) if match else ""


def unc_server(spaced: str) -> str:
    """The machine of the first UNC path (``\\\\X\\share``) in the message."""
    if "\\\\" not in spaced:
        return ""
    match = _UNC.search(spaced.replace(" ", ""))
    return target_name(match.group(1)) if match else ""


def unc_share(spaced: str) -> str:
    match = re.search(r"\\\\[\w.-]+\\([^\\'\"\s]+)", spaced.replace(" ", ""))
    return match.group(1) if match else ""


# ----------------------------------------------------------------------------- rule families
Rule = Callable[[str, str], Hit | None]


def _phrase(needle: str, kind: str, *, start: bool = False, mp: bool = False) -> Rule:
    def rule(sp: str, sq: str) -> Hit | None:
        found = sq.startswith(needle) if start else needle in sq
        return Hit(kind, mp=mp) if found else None

    return rule


def _nal(sp: str, sq: str) -> Hit | None:
    if "nalfailedtoaccessnalpath" not in sq:
        return None
    return Hit(K.NAL_UNREACHABLE, server=unc_server(sp), data={"share": unc_share(sp)})


def _role(sp: str, sq: str) -> Hit | None:
    if "assignedthe" not in sq or "roletoserver" not in sq:
        return None
    role = re.search(r'assigned the\s*"([^"]*)"', sp, re.I)
    return Hit(
        K.ROLE_ASSIGNED,
        server=named_server(sp),
        mp="managementpoint" in sq,
        data={"role": role.group(1)} if role else None,
    )


def _drive(sp: str, sq: str) -> Hit | None:
    if "isthebestdrivefor" not in sq:
        return None
    match = re.search(r"drive'?([a-z]):", sq)
    return Hit(K.DRIVE_CHOSEN, data={"drive": match.group(1).upper()} if match else None)


def _begin(sp: str, sq: str) -> Hit | None:
    if "beginninginstallationofserver" not in sq:
        return None
    return Hit(K.INSTALL_STARTED, server=named_server(sp))


SITECOMP_RULES: tuple[Rule, ...] = (
    _nal,
    _role,
    _phrase("componentsms_mp_control_managerflaggedforinstallation", K.COMPONENT_FLAGGED, mp=True),
    _phrase("installingserver", K.INSTALL_STARTED, start=True),
    _phrase("installingcomponentsms_mp_control_manager", K.INSTALL_STARTED, start=True, mp=True),
    _begin,
    _drive,
    _phrase("createdsmsinstallationdirectory", K.INSTALL_DIR_CREATED),
    _phrase("allfilesinstalled", K.FILES_INSTALLED, start=True),
    _phrase("startingbootstrapoperations", K.BOOTSTRAP_STARTED),
    _phrase("executedsuccessfullyonserver", K.BOOTSTRAP_EXECUTED),
    _phrase("bootstrapoperationscompleted", K.BOOTSTRAP_COMPLETED),
    _phrase("bootstrapoperationsaborted", K.BOOTSTRAP_ABORTED),
    _phrase("bootstrapoperationfailed", K.BOOTSTRAP_ABORTED),
    _phrase("installationsuccessful", K.SITECOMP_INSTALL_OK, start=True),
    _phrase("failedtocompleteinstallationofserver", K.SITECOMP_INSTALL_FAILED),
    _phrase("installationfailedandwillberetried", K.INSTALL_RETRY_SCHEDULED),
)


def _number_after(needle: str, kind: str) -> Rule:
    pattern = re.compile(re.escape(needle) + r":?(-?\d+)")

    def rule(sp: str, sq: str) -> Hit | None:
        if needle not in sq:
            return None
        match = pattern.search(sq)
        return Hit(kind, variant=match.group(1) if match else "?", mp=True)

    return rule


_HEX_CODE = re.compile(r"errorcodeis:?(?:0x)?([0-9a-f]{8})")


def _vdir(sp: str, sq: str) -> Hit | None:
    if "unabletocreatetheinternetvirtualdirectory" not in sq:
        return None
    code = _HEX_CODE.search(sq)
    vdir = re.search(r"virtual\s*directory\s+(\w+)", sp, re.I)
    return Hit(
        K.VDIR_FAILED,
        variant=code.group(1).upper() if code else "",
        mp=True,
        data={"vdir": vdir.group(1)} if vdir else None,
    )


def _error_code(sp: str, sq: str) -> Hit | None:
    if not sq.startswith("theerrorcodeis"):
        return None
    code = _HEX_CODE.search(sq)
    return Hit(K.SETUP_ERROR_CODE, variant=code.group(1).upper(), mp=True) if code else None


_MISSING = ("notinstalled", "notenabled", "ismissing", "aremissing", "isrequired", "arerequired")


def _bits(sp: str, sq: str) -> Hit | None:
    named = "bitsserverextension" in sq or "(bits)serverextension" in sq
    found = named and any(word in sq for word in _MISSING)
    return Hit(K.BITS_MISSING, mp=True) if found else None


def _webdav(sp: str, sq: str) -> Hit | None:
    found = "webdav" in sq and any(word in sq for word in _MISSING)
    return Hit(K.WEBDAV_MISSING, mp=True) if found else None


_CUSTOM_ACTION = re.compile(r"customaction(\S*?)returnedactualerrorcode:?(-?\d+)")


def _custom_action(sp: str, sq: str) -> Hit | None:
    """``CustomAction X returned actual error code 1603`` (unless translated to success)."""
    match = _CUSTOM_ACTION.search(sq) if "returnedactualerrorcode" in sq else None
    if match is None or "translatedtosuccess" in sq or match.group(2) == "0":
        return None
    action = re.search(r"CustomAction\s+(\S+)", sp, re.I)
    data = {"action": action.group(1)} if action else None
    return Hit(K.MSI_CUSTOM_ACTION_FAILED, variant=match.group(2), mp=True, data=data)


def _msi_started(sp: str, sq: str) -> Hit | None:
    found = sq.startswith("installing") and "mp.msi" in sq
    return Hit(K.MSI_STARTED, mp=True) if found else None


def _action_failed(sp: str, sq: str) -> Hit | None:
    found = "actionended" in sq and re.search(r"returnvalue3(?!\d)", sq) is not None
    return Hit(K.MSI_ACTION_FAILED, mp=True) if found else None


SETUP_RULES: tuple[Rule, ...] = (
    _phrase("failedtograbexecutionmutex", K.MSI_MUTEX_BUSY, mp=True),
    _number_after("mainenginethreadisreturning", K.MSI_ENGINE_RETURN),
    _number_after("exitedwithreturncode", K.MSI_EXIT),
    _phrase("fatalmsierror", K.MSI_FATAL, mp=True),
    _vdir,
    _error_code,
    _bits,
    _webdav,
    _custom_action,
    _phrase("iisserviceisnotinstalled", K.IIS_MISSING, mp=True),
    _phrase("mpsetupstarted", K.MPSETUP_STARTED, mp=True),
    _phrase("installationwassuccessful", K.MPSETUP_OK, mp=True),
    _msi_started,
    _phrase("passedosversioncheck", K.MPSETUP_STEP, mp=True),
    _phrase("iisserviceisinstalled", K.MPSETUP_STEP, mp=True),
    _phrase("noversionsofmpareinstalled", K.MPSETUP_STEP, mp=True),
    _phrase("installingprereqsfor", K.MPSETUP_STEP, start=True, mp=True),
    _phrase("rolesetup().", K.MPSETUP_STEP, start=True, mp=True),  # "~RoleSetup()." (~ is a space here)
    _action_failed,
    _phrase("--installationfailed", K.MSI_PRODUCT_FAILED, mp=True),
    _phrase("installationcompletedsuccessfully", K.MSI_PRODUCT_OK, mp=True),
    _phrase("installationoperationcompletedsuccessfully", K.MSI_PRODUCT_OK, mp=True),
)


_VERIFY_CODE = re.compile(r"statuscode:?(\d{3})")


def _verify(sp: str, sq: str) -> Hit | None:
    if "httpverification" not in sq or "sms_aut" not in sq:
        return None
    code = _VERIFY_CODE.search(sq)
    if code:
        variant = code.group(1)
    elif "noheader" in sq:
        variant = "no_header"
    else:
        variant = "200" if "succeeded" in sq else "failed"
    return Hit(K.HTTP_VERIFY, variant=variant, mp=True)


_SEND_REQUEST = re.compile(r"calltohttpsendrequestsync(succeeded|failed)forport:?(\d+)")
_STATUS_TEXT = re.compile(r"status\s*code\s*:?\s*(\d{3})(?:\.(\d+))?\s*,?\s*(?:text\s*:?\s*)?(.*)", re.I)
_WINHTTP = re.compile(r"(?:error|errorcode|with):?(0x[0-9a-f]+|\d{5})")


def _send_request(sp: str, sq: str) -> Hit | None:
    """Later versions: ``Call to HttpSendRequestSync succeeded|failed for port N with status code C,
    text: T``; a network-level failure names a WinHTTP error instead of a status."""
    match = _SEND_REQUEST.search(sq) if "httpsendrequestsync" in sq else None
    if match is None:
        return None
    outcome, port = match.groups()
    data: dict[str, Any] = {"form": "httpsendrequest", "port": port}
    status = _STATUS_TEXT.search(sp)
    if status is not None:
        code, sub, text = status.groups()
        data["text"] = text.strip().rstrip(".")
        if sub:
            data["substatus"] = int(sub)
        return Hit(K.HTTP_VERIFY, variant=code, mp=True, data=data)
    if outcome == "succeeded":
        return Hit(K.HTTP_VERIFY, variant="200", mp=True, data=data)
    error = _WINHTTP.search(sq[match.end() :])
    return Hit(K.HTTP_SEND_FAILED, variant=error.group(1) if error else "?", mp=True, data=data)


def _not_responding(sp: str, sq: str) -> Hit | None:
    """Status 5436's text: ``... not responding to HTTP requests. The HTTP status code and text is
    500, Internal Server Error.``"""
    at = sq.find("thehttpstatuscodeandtextis")
    if at < 0:
        return None
    match = re.match(r"(\d{3}),?(.*)", sq[at + len("thehttpstatuscodeandtextis") :])
    if match is None:
        return None
    text = re.search(r"text is\s*\d{3}\s*,?\s*(.*)", sp, re.I)
    data = {"form": "httpsendrequest", "text": text.group(1).strip().rstrip(".") if text else ""}
    return Hit(K.HTTP_VERIFY, variant=match.group(1), mp=True, data=data)


def _send_failed(sp: str, sq: str) -> Hit | None:
    at = sq.find("failedtosendhttprequest")
    if at < 0:
        return None
    code = re.search(r"error:?(0x[0-9a-f]+|\d+)", sq[at:])
    return Hit(K.HTTP_SEND_FAILED, variant=code.group(1) if code else "?", mp=True)


MPCONTROL_RULES: tuple[Rule, ...] = (_verify, _send_request, _not_responding, _send_failed)


def _sql_login(sp: str, sq: str) -> Hit | None:
    found = "loginfailedforuser" in sq and "trustedsqlserverconnection" in sq
    return Hit(K.SQL_LOGIN_FAILED, mp=True) if found else None


GENERIC_RULES: tuple[Rule, ...] = (_sql_login,)


def first_hit(rules: tuple[Rule, ...], spaced: str, squashed: str) -> Hit | None:
    for rule in rules:
        hit = rule(spaced, squashed)
        if hit is not None:
            return hit
    return None
