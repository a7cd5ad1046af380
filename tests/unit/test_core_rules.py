"""The rules: states and diagnoses from hand-built event sequences (times in minutes from T0)."""

from __future__ import annotations

from streams.core import kinds as K
from streams.core.catalogue import CATALOGUE, CODES
from streams.core.events import SUB_BITS, Event
from streams.core.rules import Verdict, evaluate

MINUTE = 60_000_000
T0 = 1_102_357_295_000_000
SITE = ("SERVER1", "SMS/Logs/sitecomp.log")
MP = ("MGTPOINT1", "SMS/Logs/MPSetup.log")
CONTROL = ("MGTPOINT1", "SMS/Logs/MPControl.log")


class Story:
    """Events of MGTPOINT1 in the order written; each gets its own source position."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def at(
        self, minute: float, kind: str, variant: str = "", source: tuple[str, str] = SITE, **data: object
    ) -> Story:
        host, file = source
        pos = len(self.events) * SUB_BITS
        event = Event(
            kind, "MGTPOINT1", T0 + int(minute * MINUTE), host, file, pos, variant=variant, data=data or None
        )
        self.events.append(event)
        return self

    def verdict(self, now_minute: float) -> Verdict:
        return evaluate(sorted(self.events, key=lambda e: e.key), T0 + int(now_minute * MINUTE))


def codes(verdict: Verdict) -> set[str]:
    return {f.code for f in verdict.findings}


def installed(story: Story | None = None, at: float = 0) -> Story:
    story = story or Story()
    story.at(at, K.INSTALL_PENDING).at(at + 1, K.INSTALL_STARTED)
    for letter in range(3):
        story.at(at + 1.1 + letter / 100, K.NAL_DRIVE_PROBE, share=f"{'ABD'[letter]}$")
    story.at(at + 2, K.DRIVE_CHOSEN).at(at + 4, K.MPSETUP_STARTED, source=MP).at(at + 8, K.MSI_EXIT, "0", MP)
    return story.at(at + 9, K.SITECOMP_INSTALL_OK).at(at + 9.1, K.INSTALL_CONFIRMED)


def test_catalogue_entries_are_complete() -> None:
    assert len(CODES) == 19
    for entry in CATALOGUE.values():
        assert entry.title and entry.cause and entry.remedy
        assert entry.phase in ("install", "runtime")


def test_successful_install_with_drive_probes_and_fresh_verification_is_healthy() -> None:
    story = installed().at(12, K.HTTP_VERIFY, "200", CONTROL).at(22, K.HTTP_VERIFY, "200", CONTROL)
    verdict = story.verdict(40)
    assert verdict.state == "healthy" and verdict.findings == []


def test_installed_without_any_verification_is_installed() -> None:
    assert installed().verdict(60).state == "installed"


def test_specific_cause_beats_generic_msi_failure_and_takes_its_evidence() -> None:
    story = Story().at(0, K.INSTALL_PENDING).at(4, K.MPSETUP_STARTED, source=MP)
    story.at(5, K.VDIR_FAILED, "80041315", MP).at(6, K.MSI_EXIT, "1603", MP).at(6, K.MSI_FATAL, source=MP)
    verdict = story.verdict(30)
    assert verdict.state == "failed"
    assert codes(verdict) == {"TASK_SCHEDULER_DISABLED"}
    kinds = [e.kind for e in verdict.findings[0].events]
    assert kinds[0] == K.VDIR_FAILED and K.MSI_EXIT in kinds and K.MSI_FATAL in kinds


def test_generic_msi_failure_alone() -> None:
    story = (
        Story().at(0, K.INSTALL_PENDING).at(5, K.MSI_ACTION_FAILED, source=MP).at(6, K.MSI_EXIT, "1603", MP)
    )
    verdict = story.verdict(30)
    assert codes(verdict) == {"MSI_FATAL"} and verdict.state == "failed"


def test_error_code_on_its_own_line_also_names_the_cause() -> None:
    story = (
        Story()
        .at(0, K.INSTALL_PENDING)
        .at(5, K.SETUP_ERROR_CODE, "80020009", MP)
        .at(6, K.MSI_FATAL, source=MP)
    )
    assert codes(story.verdict(30)) == {"DTC_DISABLED"}


def test_not_confirmed_needs_fifteen_minutes_without_1015() -> None:
    story = Story().at(0, K.INSTALL_PENDING).at(0.5, K.INSTALL_STARTED)
    early = story.verdict(14.9)
    assert early.state == "installing" and early.findings == []
    late = story.verdict(15)
    assert late.state == "stuck" and codes(late) == {"INSTALL_NOT_CONFIRMED"}
    story.at(20, K.INSTALL_CONFIRMED)
    assert story.verdict(40).state == "installed" and story.verdict(40).findings == []


def test_a_specific_error_suppresses_not_confirmed() -> None:
    story = Story().at(0, K.INSTALL_PENDING).at(4, K.IIS_MISSING, source=MP)
    assert codes(story.verdict(50)) == {"IIS_NOT_INSTALLED"}


def test_retrying_supersedes_not_confirmed() -> None:
    story = Story().at(0, K.INSTALL_PENDING).at(60, K.INSTALL_PENDING)
    verdict = story.verdict(90)
    assert verdict.state == "stuck" and codes(verdict) == {"INSTALL_RETRYING"}
    assert len(verdict.findings[0].events) == 2


def test_retrying_counts_only_since_the_last_1015() -> None:
    story = Story().at(0, K.INSTALL_PENDING).at(10, K.INSTALL_CONFIRMED).at(60, K.INSTALL_PENDING)
    assert codes(story.verdict(90)) == {"INSTALL_NOT_CONFIRMED"}


def test_retrying_is_kept_next_to_the_specific_cause() -> None:
    story = Story().at(0, K.INSTALL_PENDING).at(5, K.MSI_MUTEX_BUSY, source=MP)
    story.at(60, K.INSTALL_PENDING).at(65, K.MSI_EXIT, "1618", MP)
    verdict = story.verdict(90)
    assert codes(verdict) == {"MSI_MUTEX_BUSY", "INSTALL_RETRYING"} and verdict.state == "failed"


def test_a_later_successful_attempt_clears_earlier_failures() -> None:
    story = Story().at(0, K.INSTALL_PENDING).at(5, K.MSI_MUTEX_BUSY, source=MP).at(6, K.MSI_EXIT, "1618", MP)
    story.at(1, K.NAL_UNREACHABLE, share="admin$")
    installed(story, at=60).at(75, K.HTTP_VERIFY, "200", CONTROL)
    verdict = story.verdict(80)
    assert verdict.state == "healthy" and verdict.findings == []


def test_a_failure_inside_the_attempt_that_still_ended_with_1015_stays() -> None:
    story = Story().at(0, K.INSTALL_PENDING).at(1, K.INSTALL_STARTED).at(3, K.SQL_ACCESS_GROUP_FAILED, "4908")
    story.at(4, K.MPSETUP_STARTED, source=MP).at(8, K.MPSETUP_OK, source=MP).at(9, K.INSTALL_CONFIRMED)
    verdict = story.verdict(30)
    assert codes(verdict) == {"SQL_ACCESS_GROUP"} and verdict.state == "failed"


def test_verification_goes_stale_after_thirty_minutes() -> None:
    story = installed().at(10, K.HTTP_VERIFY, "200", CONTROL).at(20, K.HTTP_VERIFY, "200", CONTROL)
    assert story.verdict(50).state == "healthy"
    stale = story.verdict(50.1)
    assert stale.state == "degraded" and codes(stale) == {"MP_NOT_RESPONDING"}


def test_verification_failures_name_their_cause_and_a_later_200_heals() -> None:
    base = installed().at(10, K.HTTP_VERIFY, "200", CONTROL)
    unauthorized = installed().at(10, K.HTTP_VERIFY, "200", CONTROL).at(20, K.HTTP_VERIFY, "401", CONTROL)
    assert codes(unauthorized.verdict(25)) == {"DC_IIS_ACCOUNT_RESTRICTED"}
    assert unauthorized.verdict(25).state == "degraded"
    unauthorized.at(30, K.HTTP_VERIFY, "200", CONTROL)
    assert unauthorized.verdict(35).state == "healthy"
    port = base.at(20, K.HTTP_SEND_FAILED, "12029", CONTROL).at(20, K.HTTP_VERIFY, "no_header", CONTROL)
    assert codes(port.verdict(25)) == {"WEB_SITE_PORT_CHANGED"}
    down = installed().at(10, K.HTTP_VERIFY, "503", CONTROL)
    assert codes(down.verdict(12)) == {"MP_NOT_RESPONDING"}


def test_sql_login_failure_explains_failing_verifications() -> None:
    story = installed().at(10, K.SQL_LOGIN_FAILED, source=CONTROL).at(10, K.HTTP_VERIFY, "500", CONTROL)
    verdict = story.verdict(12)
    assert codes(verdict) == {"SQL_TRUSTED_CONNECTION"} and verdict.state == "degraded"
    assert {e.kind for e in verdict.findings[0].events} == {K.SQL_LOGIN_FAILED, K.HTTP_VERIFY}


def test_iis_401_supports_the_dc_diagnosis_but_not_the_401_2_handshake() -> None:
    iis = ("MGTPOINT1", "W3SVC1/ex041206.log")
    handshake = (
        installed().at(10, K.HTTP_VERIFY, "200", CONTROL).at(11, K.IIS_MP_ERROR, "401", iis, substatus=2)
    )
    assert handshake.verdict(15).state == "healthy"
    acl = installed().at(10, K.HTTP_VERIFY, "200", CONTROL).at(11, K.IIS_MP_ERROR, "401", iis, substatus=3)
    assert codes(acl.verdict(15)) == {"DC_IIS_ACCOUNT_RESTRICTED"}


def test_urlscan_rejections_degrade_while_recent() -> None:
    iis = ("MGTPOINT1", "W3SVC1/ex041206.log")
    story = installed().at(10, K.HTTP_VERIFY, "200", CONTROL).at(11, K.URLSCAN_REJECTED, "404", iis)
    story.at(40, K.HTTP_VERIFY, "200", CONTROL)
    verdict = story.verdict(45)
    assert verdict.state == "degraded" and codes(verdict) == {"URLSCAN_REJECTED"}
    for minute in range(50, 24 * 60 + 60, 10):
        story.at(minute, K.HTTP_VERIFY, "200", CONTROL)
    assert story.verdict(24 * 60 + 55).state == "healthy"


def test_a_reinstall_in_progress_is_not_an_unresponsive_mp() -> None:
    story = installed().at(10, K.HTTP_VERIFY, "200", CONTROL)
    story.at(120, K.INSTALL_PENDING).at(121, K.INSTALL_STARTED)
    verdict = story.verdict(125)
    assert verdict.state == "installing" and verdict.findings == []


def test_pending_until_something_happens() -> None:
    story = Story().at(0, K.COMPONENT_FLAGGED).at(0.1, K.INSTALL_PENDING)
    assert story.verdict(5).state == "pending"


LATER = {"form": "httpsendrequest"}


def _later(status: str, port: str = "80") -> Story:
    return (
        installed()
        .at(10, K.HTTP_VERIFY, "200", CONTROL, **LATER, port=port)
        .at(20, K.HTTP_VERIFY, status, CONTROL, **LATER, port=port)
    )


def test_later_version_verification_failures_have_that_generations_causes() -> None:
    assert codes(_later("401").verdict(22)) == {"ASPNET_NOT_REGISTERED"}
    assert codes(_later("500").verdict(22)) == {"ASPNET_NOT_REGISTERED"}
    assert codes(_later("503").verdict(22)) == {"MP_APP_POOL_STOPPED"}
    assert codes(_later("403", "443").verdict(22)) == {"HTTPS_CLIENT_CERTIFICATE"}
    assert codes(_later("404").verdict(22)) == {"MP_NOT_RESPONDING"}
    assert _later("503").verdict(22).state == "degraded"
    handshake = installed().at(20, K.HTTP_SEND_FAILED, "12175", CONTROL, **LATER, port="443")
    assert codes(handshake.verdict(22)) == {"HTTPS_CLIENT_CERTIFICATE"}
    # the SMS 2003 texts keep their own causes
    assert codes(installed().at(20, K.HTTP_VERIFY, "401", CONTROL).verdict(22)) == {
        "DC_IIS_ACCOUNT_RESTRICTED"
    }
    assert codes(installed().at(20, K.HTTP_VERIFY, "503", CONTROL).verdict(22)) == {"MP_NOT_RESPONDING"}


def test_iis_substatus_supports_the_later_causes() -> None:
    iis = ("MGTPOINT1", "W3SVC1/u_ex041206.log")
    cert = _later("403", "443").at(20.1, K.IIS_MP_ERROR, "403", iis, status=403, substatus=16)
    (finding,) = cert.verdict(22).findings
    assert finding.code == "HTTPS_CLIENT_CERTIFICATE" and len(finding.events) == 2
    aspnet = (
        installed()
        .at(10, K.HTTP_VERIFY, "200", CONTROL)
        .at(11, K.IIS_MP_ERROR, "500", iis, status=500, substatus=21)
    )
    assert codes(aspnet.verdict(12)) == {"ASPNET_NOT_REGISTERED"}


def test_sql_login_failures_explain_a_later_500_better_than_aspnet() -> None:
    story = _later("500").at(19.9, K.SQL_LOGIN_FAILED, source=CONTROL)
    verdict = story.verdict(22)
    assert codes(verdict) == {"SQL_TRUSTED_CONNECTION"}
    assert K.HTTP_VERIFY in {e.kind for e in verdict.findings[0].events}


def test_repeated_retry_lines_without_1013_are_a_retry_loop() -> None:
    story = Story()
    for hour in range(2):
        story.at(hour * 60, K.INSTALL_STARTED).at(hour * 60 + 1, K.BOOTSTRAP_ABORTED)
        story.at(hour * 60 + 1, K.INSTALL_RETRY_SCHEDULED)
    verdict = story.verdict(70)
    assert verdict.state == "stuck" and codes(verdict) == {"INSTALL_RETRYING"}
    assert {e.kind for e in verdict.findings[0].events} == {K.INSTALL_RETRY_SCHEDULED}
    once = Story().at(0, K.INSTALL_STARTED).at(1, K.INSTALL_RETRY_SCHEDULED)
    assert codes(once.verdict(30)) == set()
    cleared = story.at(130, K.INSTALL_CONFIRMED)
    assert codes(cleared.verdict(131)) == set()


def test_a_webdav_failure_takes_the_generic_msi_failure_evidence() -> None:
    story = Story().at(0, K.INSTALL_PENDING).at(4, K.MPSETUP_STARTED, source=MP)
    story.at(5, K.WEBDAV_MISSING, source=MP).at(6, K.MSI_CUSTOM_ACTION_FAILED, "1603", MP)
    story.at(6, K.MSI_EXIT, "1603", MP)
    verdict = story.verdict(20)
    assert verdict.state == "failed" and codes(verdict) == {"WEBDAV_NOT_INSTALLED"}
    assert len(verdict.findings[0].events) == 3
