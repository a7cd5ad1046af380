"""Text rules: the same meaning whatever the case, spacing, wrapping or ``~`` line-break markers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core import kinds as K
from streams.core import matchers as M
from streams.core.servers import canonical_server


def setup_hit(message: str) -> M.Hit | None:
    return M.first_hit(M.SETUP_RULES, *M.normalize(message))


def sitecomp_hit(message: str) -> M.Hit | None:
    return M.first_hit(M.SITECOMP_RULES, *M.normalize(message))


def mpcontrol_hit(message: str) -> M.Hit | None:
    return M.first_hit(M.MPCONTROL_RULES, *M.normalize(message))


@pytest.mark.parametrize(
    "message",
    [
        "MP.MSI exited with return code: 1603",
        "MP.MSI exited with \nreturn code: 1603 ",  # wrapped as in the seed
        "mp.msi   EXITED with return code:1603",
        "MP.MSI exited~with return code: 1603",
        "MP.MSI exited with return\r\ncode: 1603",
    ],
)
def test_msi_exit_code_is_read_however_the_line_was_wrapped(message: str) -> None:
    hit = setup_hit(message)
    assert hit is not None and hit.kind == K.MSI_EXIT and hit.variant == "1603"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (
            "Setup was unable to create \nthe Internet virtual directory CCM_Incoming\n"
            "The error code is 80041315",
            "80041315",
        ),
        (
            "Setup was unable to create the Internet virtual directory CCM_Incoming~"
            "The error code is 80020009",
            "80020009",
        ),
        (
            "SETUP WAS UNABLE TO CREATE THE INTERNET VIRTUAL DIRECTORY ccm_incoming. "
            "the error code is 0x80041315",
            "80041315",
        ),
    ],
)
def test_virtual_directory_failure_carries_its_error_code(message: str, code: str) -> None:
    hit = setup_hit(message)
    assert hit is not None and hit.kind == K.VDIR_FAILED and hit.variant == code


def test_error_code_on_a_record_of_its_own() -> None:
    hit = setup_hit("The error code is 80041315")
    assert hit is not None and (hit.kind, hit.variant) == (K.SETUP_ERROR_CODE, "80041315")


@pytest.mark.parametrize(
    ("message", "kind", "variant"),
    [
        ("MSI (c) (A0:18): Failed to grab execution mutex. \nSystem error 258.", K.MSI_MUTEX_BUSY, ""),
        ("MSI (c) (A0:18): MainEngineThread is returning 1618", K.MSI_ENGINE_RETURN, "1618"),
        (
            "Error - \nIIS Service is not installed on the Machine - \nMP Installation cannot continue.",
            K.IIS_MISSING,
            "",
        ),
        ("IIS Service is installed.", K.MPSETUP_STEP, ""),
        (
            "Error 25010. Setup failed: BITS Server Extensions are not installed on this computer.",
            K.BITS_MISSING,
            "",
        ),
        ("Fatal MSI Error - \nMP.MSI could not be installed.", K.MSI_FATAL, ""),
        ("Installation\nwas successful.", K.MPSETUP_OK, ""),
        ("MP Setup Started....", K.MPSETUP_STARTED, ""),
        ('Installing C:\\SMS\n\\bin\\i386\\mp.msi CCMINSTALLDIR="C:\\SMS_CCM"', K.MSI_STARTED, ""),
        ("Action ended 16:54:27: InstallFinalize. Return value 3.", K.MSI_ACTION_FAILED, ""),
        ("Product: SMS Management Point -- Installation failed.", K.MSI_PRODUCT_FAILED, ""),
    ],
)
def test_setup_and_msi_texts(message: str, kind: str, variant: str) -> None:
    hit = setup_hit(message)
    assert hit is not None and (hit.kind, hit.variant) == (kind, variant)
    assert hit.mp


def test_return_value_one_is_not_a_failure() -> None:
    assert setup_hit("Action ended 13:29:01: INSTALL. Return value 1.") is None


@pytest.mark.parametrize(
    ("message", "variant"),
    [
        ("Http verification .sms_aut succeeded with status \ncode 200, OK", "200"),
        ("Http verification .sms_aut failed with status code 401, \nUnauthorized", "401"),
        ("Http verification .sms_aut failed with no header \nreceived", "no_header"),
        ("http VERIFICATION .SMS_AUT failed with status code 503, Service Unavailable", "503"),
    ],
)
def test_http_verification_outcomes(message: str, variant: str) -> None:
    hit = mpcontrol_hit(message)
    assert hit is not None and (hit.kind, hit.variant) == (K.HTTP_VERIFY, variant)


def test_failed_http_request_keeps_the_error_number() -> None:
    hit = mpcontrol_hit("Failed to send http request /SMS_MP/.sms_aut?\nMPLIST. Error 12029")
    assert hit is not None and (hit.kind, hit.variant) == (K.HTTP_SEND_FAILED, "12029")


def test_sql_login_failure_wrapped_over_three_lines() -> None:
    text = "Login failed for user '(null)'. \nReason: Not associated with a trusted \nSQL Server connection."
    hit = M.first_hit(M.GENERIC_RULES, *M.normalize(text))
    assert hit is not None and hit.kind == K.SQL_LOGIN_FAILED


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ('Assigned the "SMS Component Server" role\nto server MGTPOINT1.', K.ROLE_ASSIGNED),
        ("Component SMS_MP_CONTROL_MANAGER flagged \nfor installation.", K.COMPONENT_FLAGGED),
        ("Installing server...", K.INSTALL_STARTED),
        ("Drive 'C:\\' is the best drive for the SMS \ninstallation directory.", K.DRIVE_CHOSEN),
        ("Created SMS installation \ndirectory C:\\SMS.", K.INSTALL_DIR_CREATED),
        ("All files installed.", K.FILES_INSTALLED),
        ("Starting bootstrap operations...", K.BOOTSTRAP_STARTED),
        ("Bootstrap operations completed.", K.BOOTSTRAP_COMPLETED),
        ("Bootstrap operations aborted.", K.BOOTSTRAP_ABORTED),
        ("Installation successful.", K.SITECOMP_INSTALL_OK),
    ],
)
def test_sitecomp_milestones(message: str, kind: str) -> None:
    hit = sitecomp_hit(message)
    assert hit is not None and hit.kind == kind


def test_only_the_mp_component_flag_is_an_mp_milestone() -> None:
    assert sitecomp_hit("Component SMS_DISTRIBUTION_MANAGER flagged for installation.") is None


def test_nal_failure_names_server_and_share() -> None:
    text = (
        "ERROR: NAL failed to access NAL path 'MSWNET:\n\\\\MGTPOINT1\\N$\\', probably because the machine "
        "is     down, the network is down,or the Site System Connection Accounts are misconfigured."
    )
    hit = sitecomp_hit(text)
    assert hit is not None and hit.kind == K.NAL_UNREACHABLE
    assert hit.server == "MGTPOINT1" and (hit.data or {})["share"] == "N$"


@pytest.mark.parametrize(
    ("text", "server"),
    [
        ("Synchronizing component server MGTPOINT1...", "MGTPOINT1"),
        ("Synchronizing component server mgtpoint1.corp.example.com...", "MGTPOINT1"),
        ("executed successfully\non server MGTPOINT1.", "MGTPOINT1"),
        ("installation directory on server 'MGTPOINT2'.", "MGTPOINT2"),
        ("Failed to complete installation of server MGTPOINT3.", "MGTPOINT3"),
        ("Wrote the Tracing key to server's registry.", ""),
        ("Testing connectivity to this server using NAL", ""),
    ],
)
def test_named_servers(text: str, server: str) -> None:
    assert M.named_server(M.normalize(text)[0]) == server


def test_unc_server_survives_a_wrap_inside_the_path() -> None:
    spaced = M.normalize("Installed file \\\\MGTPOINT1\\C$\\SMS\\bin\n\\i386smsexec.exe.")[0]
    assert M.unc_server(spaced) == "MGTPOINT1"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("mgtpoint1", "MGTPOINT1"),
        ("MGTPOINT1.corp.example.com", "MGTPOINT1"),
        ("'MgtPoint1'", "MGTPOINT1"),
        ("MGTPOINT1...", "MGTPOINT1"),
        ("\\\\MGTPOINT1\\", "MGTPOINT1"),
        ("10.1.1.21", "10.1.1.21"),
        ("", ""),
    ],
)
def test_server_name_canonicalisation(raw: str, canonical: str) -> None:
    assert canonical_server(raw) == canonical


PHRASES = [
    ("MP.MSI exited with return code: 1618", M.SETUP_RULES, K.MSI_EXIT, "1618"),
    (
        "Setup was unable to create the Internet virtual directory CCM_Incoming The error code is 80041315",
        M.SETUP_RULES,
        K.VDIR_FAILED,
        "80041315",
    ),
    (
        "IIS Service is not installed on the Machine - MP Installation cannot continue.",
        M.SETUP_RULES,
        K.IIS_MISSING,
        "",
    ),
    (
        "Http verification .sms_aut failed with status code 401, Unauthorized",
        M.MPCONTROL_RULES,
        K.HTTP_VERIFY,
        "401",
    ),
    ("Component SMS_MP_CONTROL_MANAGER flagged for installation.", M.SITECOMP_RULES, K.COMPONENT_FLAGGED, ""),
    ("Bootstrap operations completed.", M.SITECOMP_RULES, K.BOOTSTRAP_COMPLETED, ""),
]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_rewrapping_recasing_or_tilde_keeps_the_meaning(data: st.DataObject) -> None:
    text, rules, kind, variant = data.draw(st.sampled_from(PHRASES))
    out = []
    for char in text:
        if char == " ":
            out.append(data.draw(st.sampled_from([" ", "  ", "\n", " \n", "~", "\r\n   ", "\t"])))
        else:
            out.append(char.swapcase() if data.draw(st.booleans()) else char)
    hit = M.first_hit(rules, *M.normalize("".join(out)))
    assert hit is not None and (hit.kind, hit.variant.upper()) == (kind, variant)


# ----------------------------------------------------------------------------- later versions
@pytest.mark.parametrize(
    ("message", "kind", "variant", "port", "text"),
    [
        (
            "Call to HttpSendRequestSync succeeded for port 80 with status code 200, text: OK",
            K.HTTP_VERIFY,
            "200",
            "80",
            "OK",
        ),
        (
            "Call to HttpSendRequestSync succeeded for port 443 with status code 200, text: OK",
            K.HTTP_VERIFY,
            "200",
            "443",
            "OK",
        ),
        (
            "Call to HttpSendRequestSync failed for port 443 with status code 500, text: Internal Server "
            "Error",
            K.HTTP_VERIFY,
            "500",
            "443",
            "Internal Server Error",
        ),
        (
            "call to httpsendrequestsync FAILED for port 80 with status code 503,\ntext: Service Unavailable",
            K.HTTP_VERIFY,
            "503",
            "80",
            "Service Unavailable",
        ),
        (
            "Call to HttpSendRequestSync failed for port 443 with status code 403, text: Forbidden",
            K.HTTP_VERIFY,
            "403",
            "443",
            "Forbidden",
        ),
        (
            "Call to HttpSendRequestSync failed for port 80 with status code 401, text: Unauthorized",
            K.HTTP_VERIFY,
            "401",
            "80",
            "Unauthorized",
        ),
        (
            "Call to HttpSendRequestSync failed for port 443 with error code 12175",
            K.HTTP_SEND_FAILED,
            "12175",
            "443",
            None,
        ),
    ],
)
def test_httpsendrequestsync_verifications_carry_status_port_and_text(
    message: str, kind: str, variant: str, port: str, text: str | None
) -> None:
    hit = mpcontrol_hit(message)
    assert hit is not None and (hit.kind, hit.variant) == (kind, variant)
    assert hit.data is not None and hit.data["form"] == "httpsendrequest" and hit.data["port"] == port
    assert hit.data.get("text") == text


def test_status_5436_text_is_a_failing_verification() -> None:
    hit = mpcontrol_hit(
        "MP Control Manager detected management point is not responding to HTTP requests.  The HTTP status "
        "code and text is 500, Internal Server Error."
    )
    assert hit is not None and (hit.kind, hit.variant) == (K.HTTP_VERIFY, "500")
    assert hit.data == {"form": "httpsendrequest", "text": "Internal Server Error"}


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Installing component SMS_MP_CONTROL_MANAGER...", K.INSTALL_STARTED),
        (
            '"E:\\Program Files\\Microsoft Configuration Manager\\bin\\x64\\rolesetup.exe /install '
            '/siteserver:SERVER1 SMSMP 0" executed successfully on server MGTPOINT1.',
            K.BOOTSTRAP_EXECUTED,
        ),
        ("Bootstrap operations aborted.", K.BOOTSTRAP_ABORTED),
        ("Installation failed and will be retried in the next polling cycle.", K.INSTALL_RETRY_SCHEDULED),
    ],
)
def test_rolesetup_texts_of_sitecomp(message: str, kind: str) -> None:
    hit = sitecomp_hit(message)
    assert hit is not None and hit.kind == kind


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("SMSMP Setup Started....", K.MPSETUP_STARTED),
        ("Installing Pre Reqs for SMSMP", K.MPSETUP_STEP),
        ("~RoleSetup().", K.MPSETUP_STEP),
        ("Installation was successful.", K.MPSETUP_OK),
        ("Setup failed: WebDAV is not installed or not enabled on the Default Web Site.", K.WEBDAV_MISSING),
        (
            "Background Intelligent Transfer Service (BITS) Server Extensions are not installed.",
            K.BITS_MISSING,
        ),
    ],
)
def test_later_setup_texts(message: str, kind: str) -> None:
    hit = setup_hit(message)
    assert hit is not None and hit.kind == kind


def test_custom_action_error_code_unless_translated_to_success() -> None:
    hit = setup_hit(
        "CustomAction CcmSetupIISWebApps returned actual error code 1603 (note this may not be 100% "
        "accurate if translation happened inside sandbox)"
    )
    assert hit is not None and (hit.kind, hit.variant) == (K.MSI_CUSTOM_ACTION_FAILED, "1603")
    assert hit.data == {"action": "CcmSetupIISWebApps"}
    translated = (
        "CustomAction WixRemoveFoldersEx returned actual error code 1603 but will be translated to success "
        "due to continue marking"
    )
    assert setup_hit(translated) is None
