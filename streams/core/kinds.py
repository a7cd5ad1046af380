"""The event kinds the core knows, and the roles each kind plays in the rules.

An event kind names *what a log line means* for a management point install (a milestone, a status
message, a setup error, a verification result). Kinds are plain strings so events serialise as-is;
the sets below are the single place that says which kinds start an attempt, show progress, prove
success, or repeat so often that the reducer compresses them.
"""

from __future__ import annotations

# --- SiteComp (site server) milestones ---------------------------------------------------------
ROLE_ASSIGNED = "role_assigned"
COMPONENT_FLAGGED = "component_flagged"
INSTALL_STARTED = "install_started"
DRIVE_CHOSEN = "drive_chosen"
INSTALL_DIR_CREATED = "install_dir_created"
FILES_INSTALLED = "files_installed"
BOOTSTRAP_STARTED = "bootstrap_started"
BOOTSTRAP_EXECUTED = "bootstrap_executed"
BOOTSTRAP_COMPLETED = "bootstrap_completed"
BOOTSTRAP_ABORTED = "bootstrap_aborted"
SITECOMP_INSTALL_OK = "sitecomp_install_ok"
SITECOMP_INSTALL_FAILED = "sitecomp_install_failed"
INSTALL_RETRY_SCHEDULED = "install_retry_scheduled"  # "Installation failed and will be retried ..."
NAL_DRIVE_PROBE = "nal_drive_probe"  # normal: drive enumeration A$..Z$
NAL_UNREACHABLE = "nal_unreachable"
# --- status messages (STATMSG) -----------------------------------------------------------------
INSTALL_PENDING = "install_pending"  # 1013
INSTALL_IN_PROGRESS = "install_in_progress"  # 1014
INSTALL_CONFIRMED = "install_confirmed"  # 1015
SQL_ACCESS_GROUP_FAILED = "sql_access_group_failed"  # 4908 / 5414
STATUS = "status"  # any other status message worth keeping (variant = message id)
# --- MPSetup.log / MPMSI.log on the MP ---------------------------------------------------------
MPSETUP_STARTED = "mpsetup_started"
MPSETUP_STEP = "mpsetup_step"
MSI_STARTED = "msi_started"
MSI_EXIT = "msi_exit"  # variant = return code
MPSETUP_OK = "mpsetup_ok"
MSI_FATAL = "msi_fatal"
MSI_MUTEX_BUSY = "msi_mutex_busy"
MSI_ENGINE_RETURN = "msi_engine_return"  # variant = return code
MSI_ACTION_FAILED = "msi_action_failed"  # "Return value 3"
MSI_PRODUCT_OK = "msi_product_ok"
MSI_PRODUCT_FAILED = "msi_product_failed"
IIS_MISSING = "iis_missing"
BITS_MISSING = "bits_missing"
WEBDAV_MISSING = "webdav_missing"
MSI_CUSTOM_ACTION_FAILED = "msi_custom_action_failed"  # "CustomAction X returned actual error code N"
VDIR_FAILED = "vdir_failed"  # variant = hex error code
SETUP_ERROR_CODE = "setup_error_code"  # "The error code is X" on its own line
# --- runtime (MPControl.log, IIS, other MP-side logs) ------------------------------------------
HTTP_VERIFY = "http_verify"  # variant = "200", "401", "no_header", ...; data["port"] in later versions
HTTP_SEND_FAILED = "http_send_failed"  # variant = error number, e.g. "12029"
SQL_LOGIN_FAILED = "sql_login_failed"
URLSCAN_REJECTED = "urlscan_rejected"
IIS_MP_ERROR = "iis_mp_error"  # variant = HTTP status of a /SMS_MP/ request >= 400

# A new install attempt starts here (used to decide whether a success clears an earlier failure).
ATTEMPT_SITE = frozenset({INSTALL_PENDING, INSTALL_STARTED})
ATTEMPT_MP = ATTEMPT_SITE | {MPSETUP_STARTED}
PENDING = frozenset({ROLE_ASSIGNED, COMPONENT_FLAGGED, INSTALL_PENDING})
PROGRESS = frozenset(
    {
        INSTALL_STARTED,
        DRIVE_CHOSEN,
        INSTALL_DIR_CREATED,
        FILES_INSTALLED,
        BOOTSTRAP_STARTED,
        BOOTSTRAP_EXECUTED,
        BOOTSTRAP_COMPLETED,
        INSTALL_IN_PROGRESS,
        MPSETUP_STARTED,
        MPSETUP_STEP,
        MSI_STARTED,
        NAL_DRIVE_PROBE,
    }
)
# Whole-install success (site server's word) and MP-side setup success.
CONFIRMED = frozenset({INSTALL_CONFIRMED, SITECOMP_INSTALL_OK})
SETUP_OK = frozenset({MPSETUP_OK, MSI_PRODUCT_OK})
SUCCESS_EXIT_CODES = frozenset({"0", "3010"})
VERIFY = frozenset({HTTP_VERIFY, HTTP_SEND_FAILED})

ERROR_KINDS = frozenset(
    {
        BOOTSTRAP_ABORTED,
        SITECOMP_INSTALL_FAILED,
        INSTALL_RETRY_SCHEDULED,
        NAL_UNREACHABLE,
        SQL_ACCESS_GROUP_FAILED,
        MSI_FATAL,
        MSI_MUTEX_BUSY,
        MSI_ACTION_FAILED,
        MSI_PRODUCT_FAILED,
        IIS_MISSING,
        BITS_MISSING,
        WEBDAV_MISSING,
        MSI_CUSTOM_ACTION_FAILED,
        VDIR_FAILED,
        SETUP_ERROR_CODE,
        HTTP_SEND_FAILED,
        SQL_LOGIN_FAILED,
        URLSCAN_REJECTED,
        IIS_MP_ERROR,
    }
)

# Retention policy (see reducer.py): kinds that repeat forever keep only the first/last few events of
# each (kind, variant) series plus a count; everything else keeps up to 32 + 32 per series, which in
# practice is every event (one per install attempt, and SiteComp retries at most hourly).
REPETITIVE = frozenset(
    {HTTP_VERIFY, HTTP_SEND_FAILED, NAL_DRIVE_PROBE, IIS_MP_ERROR, URLSCAN_REJECTED, SQL_LOGIN_FAILED, STATUS}
)
REPETITIVE_CAPS = (3, 5)
DEFAULT_CAPS = (32, 32)


def caps(kind: str) -> tuple[int, int]:
    """(head, tail) number of events a series of this kind keeps in full."""
    return REPETITIVE_CAPS if kind in REPETITIVE else DEFAULT_CAPS


def severity(kind: str, variant: str = "") -> str:
    """'error', 'warning' or 'info' for display."""
    if kind in ERROR_KINDS:
        return "error"
    if kind == HTTP_VERIFY:
        return "info" if variant == "200" else "error"
    if kind in (MSI_EXIT, MSI_ENGINE_RETURN):
        return "info" if variant in SUCCESS_EXIT_CODES else "error"
    if kind == STATUS:
        return "warning"
    return "info"
