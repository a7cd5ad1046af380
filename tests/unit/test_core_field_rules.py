"""Field rules: STATMSG status messages and IIS request lines, read from their parsed fields."""

from __future__ import annotations

import pytest

from streams.core import field_rules as F
from streams.core import kinds as K


def _statmsg(
    status_id: int, comp: str = "SMS_MP_CONTROL_MANAGER", sev: str = "I", sys: str = "mgtpoint1"
) -> dict:
    return {
        "statmsg": {"ID": str(status_id), "SEV": sev, "COMP": f'"{comp}"', "SYS": sys},
        "status_id": status_id,
    }


@pytest.mark.parametrize(
    ("status_id", "kind"),
    [(1013, K.INSTALL_PENDING), (1014, K.INSTALL_IN_PROGRESS), (1015, K.INSTALL_CONFIRMED)],
)
def test_install_statuses_name_their_system(status_id: int, kind: str) -> None:
    hit = F.match_statmsg(_statmsg(status_id))
    assert hit is not None and hit.kind == kind and hit.server == "MGTPOINT1" and hit.mp


def test_sql_access_group_statuses() -> None:
    for status_id in (4908, 5414):
        hit = F.match_statmsg(_statmsg(status_id, "SMS_SITE_COMPONENT_MANAGER", "E"))
        assert hit is not None and hit.kind == K.SQL_ACCESS_GROUP_FAILED


def test_install_status_of_another_component_is_not_an_mp_install_milestone() -> None:
    hit = F.match_statmsg(_statmsg(1013, "SMS_DISTRIBUTION_MANAGER"))
    assert hit is None or hit.kind not in (K.INSTALL_PENDING, K.INSTALL_IN_PROGRESS, K.INSTALL_CONFIRMED)


def test_iis_urlscan_rejection_and_mp_errors() -> None:
    rejected = {
        "cs-method": "GET",
        "cs-uri-stem": "/<Rejected-By-UrlScan>",
        "cs-uri-query": "~/ccm_system/request",
        "sc-status": 404,
    }
    hit = F.match_iis(rejected)
    assert hit is not None and hit.kind == K.URLSCAN_REJECTED and "ccm_system" in hit.message
    denied = {
        "cs-uri-stem": "/SMS_MP/.sms_aut",
        "cs-uri-query": "MPLIST",
        "sc-status": "401",
        "sc-substatus": "3",
    }
    hit = F.match_iis(denied)
    assert hit is not None and (hit.kind, hit.variant) == (K.IIS_MP_ERROR, "401")
    assert F.match_iis({"cs-uri-stem": "/SMS_MP/.sms_aut", "sc-status": 200}) is None
    assert F.match_iis({"cs-uri-stem": "/iisstart.htm", "sc-status": 404}) is None
