"""The diagnosis catalogue: stable codes with title, cause and remedy (from the seed document, and for
the causes later versions added, ConfigMgr 2007 .. current branch, from Microsoft's published guidance).

``phase`` says when a diagnosis applies: ``install`` problems are cleared by a later successful install;
``runtime`` problems concern a working (or supposedly working) MP and are judged on recent evidence.
``specificity`` orders causes: a more specific active diagnosis suppresses less specific ones of the
same phase (``SPECIFIC`` beats ``GENERIC``; ``STUCK`` codes only speak when nothing explains the stall).
"""

from __future__ import annotations

from dataclasses import dataclass

SPECIFIC = 2
GENERIC = 1
STUCK = 0


@dataclass(frozen=True, slots=True)
class Diagnosis:
    code: str
    title: str
    cause: str
    remedy: str
    phase: str  # "install" | "runtime"
    specificity: int


_ENTRIES = (
    Diagnosis(
        "MSI_MUTEX_BUSY",
        "Windows Installer mutex held by another install",
        "mp.msi could not grab the Windows Installer execution mutex (return code 1618): another "
        "installation was running, as seen on domain controllers.",
        "Wait for or stop the other Windows Installer session, then let Site Component Manager retry; "
        "on a domain controller also check the IWAM_/IUSR_ account notes (KB 886213).",
        "install",
        SPECIFIC,
    ),
    Diagnosis(
        "DC_IIS_ACCOUNT_RESTRICTED",
        "MP answers 401: IIS accounts restricted on a domain controller",
        "On a domain controller the IWAM_<DC> and IUSR_<DC> domain accounts inherited the Domain Guest "
        "account's logon restrictions, or IWAM_<DC> is not a member of <domain>\\IIS_WPG; the MP "
        "verification URL answers 401 (401.3).",
        "Fix the Domain Guest attributes before installing IIS on a DC, and add IWAM_<DC> to "
        "<domain>\\IIS_WPG (Active Directory Users and Computers).",
        "runtime",
        SPECIFIC,
    ),
    Diagnosis(
        "IIS_NOT_INSTALLED",
        "IIS is not installed",
        "MPSetup found that the IIS service is not installed; the MP installation cannot continue.",
        "Install IIS (Add/Remove Programs > Windows Components > Application Server > IIS); "
        "Site Component Manager retries every 60 minutes.",
        "install",
        SPECIFIC,
    ),
    Diagnosis(
        "BITS_NOT_INSTALLED",
        "BITS Server Extensions are not installed",
        "On Windows Server 2003 mp.msi requires the BITS Server Extensions and stops when they are missing.",
        "Install BITS Server Extensions (Windows Components > Application Server > IIS).",
        "install",
        SPECIFIC,
    ),
    Diagnosis(
        "WEBDAV_NOT_INSTALLED",
        "WebDAV is not installed or not enabled",
        "On Windows Server 2008 and later the management point needs the IIS WebDAV Publishing role "
        "service with WebDAV enabled (and BITS Server Extensions); setup found WebDAV missing and mp.msi "
        "stopped.",
        "Add the IIS role service WebDAV Publishing (on Windows Server 2008 download the WebDAV "
        "extension), enable WebDAV with an authoring rule that allows All users to read, install BITS "
        "Server Extensions, then let Site Component Manager retry.",
        "install",
        SPECIFIC,
    ),
    Diagnosis(
        "ASPNET_NOT_REGISTERED",
        "MP answers 401/500: ASP.NET not registered with IIS",
        "MP Control Manager's HttpSendRequestSync check gets 401 or 500 (IIS may log 500.21): the .NET "
        "Framework was installed before IIS (or IIS was reinstalled), so ASP.NET is not registered with "
        "IIS and the MP's web applications cannot run.",
        "Register ASP.NET with IIS (aspnet_regiis -i of the Framework the MP uses, or add the IIS role "
        "service ASP.NET on Windows Server 2008 and later), run iisreset, and reinstall the MP if the "
        "check keeps failing.",
        "runtime",
        SPECIFIC,
    ),
    Diagnosis(
        "MP_APP_POOL_STOPPED",
        "MP answers 503: its application pool is stopped",
        "MP Control Manager's HttpSendRequestSync check gets 503 Service Unavailable: HTTP.sys answers "
        "for a stopped application pool (SMS Management Point Pool / CCM Server Framework Pool), for "
        "example after its identity's password changed or rapid-fail protection stopped it.",
        "Start the MP's application pool in IIS Manager, look in the System event log (WAS) for why it "
        "stopped, fix its identity or the crashing module, then recheck the MP list URL.",
        "runtime",
        SPECIFIC,
    ),
    Diagnosis(
        "HTTPS_CLIENT_CERTIFICATE",
        "HTTPS MP rejects the client certificate (403.x)",
        "The MP accepts HTTPS only and refused the caller's client certificate: 403.7 (no client "
        "certificate), 403.16 (not trusted or invalid), 403.13 (revoked), 403.17 (expired), or WinHTTP "
        "12175 (secure channel failure).",
        "Give the site server (and clients) a valid client authentication certificate, put the issuing "
        "root CA in the MP's Trusted Root store, make the CRL reachable (or turn CRL checking off), and "
        "check the MP's web server certificate bound to port 443.",
        "runtime",
        SPECIFIC,
    ),
    Diagnosis(
        "WEB_SITE_PORT_CHANGED",
        "Default Web Site not reachable on port 80",
        "MP Control Manager's HTTP request failed (error 12029 / no header received): the Default Web "
        "Site is not on port 80, or another service bound port 80 first.",
        "Set the Default Web Site's TCP port to 80, or find the owner of port 80 with "
        "`netstat -ano` and `tasklist /svc`.",
        "runtime",
        SPECIFIC,
    ),
    Diagnosis(
        "TASK_SCHEDULER_DISABLED",
        "Task Scheduler service disabled",
        "mp.msi could not create the CCM_Incoming virtual directory (error 80041315) because the Task "
        "Scheduler service is disabled; mp.msi returned 1603.",
        "Enable and start the Task Scheduler service, then let the install retry.",
        "install",
        SPECIFIC,
    ),
    Diagnosis(
        "DTC_DISABLED",
        "Distributed Transaction Coordinator not running",
        "mp.msi could not create the CCM_Incoming virtual directory (error 80020009) because the "
        "Distributed Transaction Coordinator is not running; mp.msi returned 1603.",
        "Start the Distributed Transaction Coordinator (DTC) service, then let the install retry.",
        "install",
        SPECIFIC,
    ),
    Diagnosis(
        "SQL_ACCESS_GROUP",
        "MP computer account not in the SQL access group",
        "Site Component Manager could not add the MP's computer account to "
        "SMS_SiteSystemToSQLConnection_<site> on the SQL Server (status 4908, and 5414 on the site server).",
        "Add the MP computer account to SMS_SiteSystemToSQLConnection_<site> on the SQL Server by hand, "
        "then remove and reinstall the management point.",
        "install",
        SPECIFIC,
    ),
    Diagnosis(
        "SQL_TRUSTED_CONNECTION",
        "SQL login failed: not a trusted connection",
        "The MP's login to SQL Server failed ('(null)', not associated with a trusted SQL Server "
        "connection): SQL service principal names, Kerberos tickets or DNS are wrong.",
        "Register the MSSQLSvc SPNs with setspn (FQDN and NetBIOS), try the SQL server's FQDN, and clear "
        "stale Kerberos tickets (kerbtray).",
        "runtime",
        SPECIFIC,
    ),
    Diagnosis(
        "URLSCAN_REJECTED",
        "URLScan rejects client requests",
        "URLScan is installed without the SMS Toolkit 2 URLScan template, so requests such as "
        "ccm_system/request are rejected (404 Rejected-By-UrlScan).",
        "Apply the SMS 2003 Toolkit 2 URLScan template on the MP.",
        "runtime",
        SPECIFIC,
    ),
    Diagnosis(
        "SITE_SYSTEM_UNREACHABLE",
        "Site system unreachable",
        "Site Component Manager could not reach the server through NAL (admin$ share): the machine or "
        "network is down, or the Site System Connection Accounts are misconfigured.",
        "Check that the server is up and reachable (ping, \\\\server\\admin$) and that the site server "
        "or connection account has administrative rights on it.",
        "install",
        SPECIFIC,
    ),
    Diagnosis(
        "MSI_FATAL",
        "mp.msi failed (1603)",
        "mp.msi ended with a fatal error (return code 1603 / 'Fatal MSI Error') and no more specific "
        "cause was found in the logs.",
        "Read MPMSI.log (and MPMSI.log.LastError) around 'Return value 3' for the failing action.",
        "install",
        GENERIC,
    ),
    Diagnosis(
        "INSTALL_NOT_CONFIRMED",
        "Install not confirmed",
        "Status 1013 (install pending) was not followed by 1015 (installed) within 15 minutes and no "
        "error explains it: the install failed or stalled.",
        "Look for error status messages for the server in SiteComp.log and on the MP (MPSetup.log, "
        "MPMSI.log).",
        "install",
        STUCK,
    ),
    Diagnosis(
        "INSTALL_RETRYING",
        "Install keeps retrying",
        "Status 1013 was reported at least twice without a 1015 in between (or, where the status lines "
        "were not collected, SiteComp said twice 'Installation failed and will be retried in the next "
        "polling cycle.'): Site Component Manager retries the install every polling cycle (about "
        "hourly) and it keeps failing.",
        "Find the failing step (the other diagnoses and the timeline show the last attempt) and fix it.",
        "install",
        STUCK,
    ),
    Diagnosis(
        "MP_NOT_RESPONDING",
        "MP not responding",
        "After install, MP Control Manager's HTTP verification fails, or no successful verification "
        "was logged for more than 30 minutes: the MP or the SMS Agent Host (CCMExec) is down, for "
        "example because WMI stopped.",
        "Check that the SMS Agent Host (CCMExec), WMI and IIS are running; open "
        "http://<MP>/sms_mp/.sms_aut?mplist.",
        "runtime",
        GENERIC,
    ),
)

CATALOGUE: dict[str, Diagnosis] = {entry.code: entry for entry in _ENTRIES}
CODES = tuple(CATALOGUE)


def lookup(code: str) -> Diagnosis:
    return CATALOGUE[code]
