<#
.SYNOPSIS
    Installs the mpwatch shipper as a Windows service (mpwatch-shipper) and starts it.

.DESCRIPTION
    Writes %ProgramData%\mpwatch\shipper.toml (the shipper's config) for the standard log folders of
    SMS 2003, Configuration Manager and IIS, registers shipper\windows_service.py with pywin32 (delayed
    automatic start, LocalSystem), sets recovery actions (restart after 10 s, 60 s, then 5 min; the
    failure count resets after a day) and starts the service. Start and stop are written to the
    Application event log (source mpwatch-shipper); the shipper's own log is
    %ProgramData%\mpwatch\shipper.log, its checkpoints are in %ProgramData%\mpwatch\state.

    Needs an elevated prompt and a Python 3.11 (a normal install, not a virtual environment: the
    service host pythonservice.exe must find pywin32's DLLs) with mpwatch and pywin32 installed, or
    -Package to install them. Run again to change the settings (-Force rewrites an existing config).

.EXAMPLE
    .\install.ps1 -Broker kafka1.example.com:9092
.EXAMPLE
    .\install.ps1 -Broker kafka1.example.com:9094 -SecurityProtocol SASL_SSL -Username mpwatch `
        -PasswordFile C:\ProgramData\mpwatch\kafka.password -CaFile C:\ProgramData\mpwatch\ca.pem -Force
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string]$Broker,
    [string]$Topic = 'mpwatch-records',
    [string]$HostName = $env:COMPUTERNAME,
    [string]$Python = '',
    [string]$Package = '',
    [string[]]$ExtraPath = @(),
    [int]$MetricsPort = 9108,
    [string]$MetricsHost = '127.0.0.1',
    [ValidateSet('PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL')]
    [string]$SecurityProtocol = 'PLAINTEXT',
    [ValidateSet('SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN')]
    [string]$SaslMechanism = 'SCRAM-SHA-512',
    [string]$Username = '',
    [string]$PasswordFile = '',
    [string]$CaFile = '',
    [switch]$Force
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$ServiceName = 'mpwatch-shipper'

# The standard log folders; keep equal to WINDOWS_LOG_FOLDERS in shipper/config.py (a test compares).
$DefaultLogFolders = @(
    'C:\SMS\Logs',
    'C:\Program Files\Microsoft Configuration Manager\Logs',
    'C:\Program Files\SMS_CCM\Logs',
    'C:\inetpub\logs\LogFiles',
    'C:\WINDOWS\system32\LogFiles'
)
# What a folder stands for (DEFAULT_GLOBS in shipper/paths.py). The patterns are written out in full so
# that a folder created after the service started (an MP installed later) is still picked up.
$FolderGlobs = @(
    '*.log',
    '*.lo_',
    'W3SVC*\u_ex*.log',
    'W3SVC*\ex*.log'
)

function Test-Administrator {
    $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object Security.Principal.WindowsPrincipal($identity)
    return $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
}

function ConvertTo-TomlString([string]$Text) {
    # A TOML basic string: backslashes and quotes escaped (Windows paths keep their backslashes).
    return '"' + ($Text -replace '\\', '\\' -replace '"', '\"') + '"'
}

function Invoke-Checked([string]$What, [scriptblock]$Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) {
        throw "$What failed (exit code $LASTEXITCODE)"
    }
}

if (-not (Test-Administrator)) {
    throw 'Run this script from an elevated PowerShell (Run as administrator).'
}
if ($SecurityProtocol -like 'SASL*' -and -not $Username) {
    throw "-Username is required with -SecurityProtocol $SecurityProtocol"
}
if (-not $Python) {
    $found = Get-Command python.exe -ErrorAction SilentlyContinue
    if (-not $found) {
        throw 'No python.exe on PATH: give -Python C:\Path\To\python.exe (Python 3.11 or later).'
    }
    $Python = $found.Source
}

$DataDir = Join-Path $env:ProgramData 'mpwatch'
$StateDir = Join-Path $DataDir 'state'
$ConfigFile = Join-Path $DataDir 'shipper.toml'
New-Item -ItemType Directory -Force -Path $StateDir | Out-Null

if ($Package) {
    Invoke-Checked 'pip install' { & $Python -m pip install --upgrade $Package 'pywin32>=306' }
}
Invoke-Checked 'the import check (is mpwatch installed with pywin32?)' {
    & $Python -c 'import shipper.windows_service, win32serviceutil'
}
# pywin32's post-install step copies its DLLs where the service host finds them.
& $Python -m pywin32_postinstall -install -quiet | Out-Null
if ($LASTEXITCODE -ne 0) {
    Write-Warning 'pywin32_postinstall did not succeed; if the service does not start, run it by hand.'
}

$patterns = New-Object System.Collections.Generic.List[string]
foreach ($folder in $DefaultLogFolders) {
    foreach ($glob in $FolderGlobs) {
        $patterns.Add("$folder\$glob")
    }
}
foreach ($extra in $ExtraPath) {
    $patterns.Add($extra)
}

if ((Test-Path -LiteralPath $ConfigFile) -and -not $Force) {
    Write-Host "Keeping the existing $ConfigFile (-Force rewrites it)."
}
else {
    $lines = New-Object System.Collections.Generic.List[string]
    $lines.Add("# mpwatch shipper settings, written by deploy/windows/install.ps1 on $(Get-Date -Format s)")
    $lines.Add('host = ' + (ConvertTo-TomlString $HostName))
    $lines.Add('output = ' + (ConvertTo-TomlString "kafka://$Broker/$Topic"))
    $lines.Add('state_dir = ' + (ConvertTo-TomlString $StateDir))
    $lines.Add("metrics_port = $MetricsPort")
    $lines.Add('metrics_host = ' + (ConvertTo-TomlString $MetricsHost))
    $lines.Add('paths = [')
    foreach ($pattern in $patterns) {
        $lines.Add('    ' + (ConvertTo-TomlString $pattern) + ',')
    }
    $lines.Add(']')
    $lines.Add('')
    $lines.Add('[kafka]')
    $lines.Add('security_protocol = ' + (ConvertTo-TomlString $SecurityProtocol))
    if ($SecurityProtocol -like 'SASL*') {
        $lines.Add('sasl_mechanism = ' + (ConvertTo-TomlString $SaslMechanism))
        $lines.Add('username = ' + (ConvertTo-TomlString $Username))
        if ($PasswordFile) {
            $lines.Add('password_file = ' + (ConvertTo-TomlString $PasswordFile))
        }
    }
    if ($CaFile) {
        $lines.Add('ssl_cafile = ' + (ConvertTo-TomlString $CaFile))
    }
    # UTF-8 without a byte order mark (the shipper accepts one too)
    $encoding = New-Object System.Text.UTF8Encoding($false)
    [System.IO.File]::WriteAllLines($ConfigFile, $lines, $encoding)
    Write-Host "Wrote $ConfigFile"
}

$existing = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
if ($existing) {
    if ($existing.Status -ne 'Stopped') {
        Stop-Service -Name $ServiceName
    }
    Invoke-Checked 'removing the old service' { & $Python -m shipper.windows_service remove }
}
Invoke-Checked 'registering the service' { & $Python -m shipper.windows_service --startup delayed install }
# Restart after a failure: 10 s, then 60 s, then every 5 minutes; the count resets after one day.
# failureflag 1 applies the actions also when the service stops itself with an error.
Invoke-Checked 'sc.exe failure' {
    & sc.exe failure $ServiceName reset= 86400 actions= restart/10000/restart/60000/restart/300000
}
Invoke-Checked 'sc.exe failureflag' { & sc.exe failureflag $ServiceName 1 }

Start-Service -Name $ServiceName
(Get-Service -Name $ServiceName).WaitForStatus('Running', [TimeSpan]::FromSeconds(60))
Write-Host "$ServiceName is running; config $ConfigFile, log $(Join-Path $DataDir 'shipper.log')"
